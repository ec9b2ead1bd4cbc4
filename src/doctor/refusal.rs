//! How the doctor reports a request that did not succeed: a Genesys 403 by the permissions it
//! names (and the narrowest of them to add), a 429 as a busy quota, anything else in the
//! server's words.

use super::call::Answer;
use super::report::Checks;

/// Reports a request that did not succeed: a missing permission by name, else the answer.
pub fn refused(c: &mut Checks, check: &'static str, what: &str, answer: Result<Answer, String>) {
    match answer {
        Ok(a) if a.status == 403 => {
            let missing = a.missing_permissions();
            let detail = match &missing {
                Some(p) if p.contains(',') => format!("{what}: missing permission (one of) {p}"),
                Some(p) => format!("{what}: missing permission {p}"),
                None => format!("{what}: refused ({})", a.describe),
            };
            let grant = "to a role of the OAuth client (Admin > Roles / Permissions), then \
                         check the role is granted in the table's division";
            let advice = match missing.as_deref().map(narrowest) {
                Some(p) => format!("add {p} {grant}"),
                None => "grant the OAuth client's role the permission this call needs \
                         (docs/genesys.md, the OAuth client)"
                    .into(),
            };
            c.fail(check, detail, advice);
        }
        Ok(a) if a.status == 429 => c.fail(
            check,
            format!("{what}: rate limited ({})", a.describe),
            "the quota is in use (a running worker?): run the doctor again in a minute",
        ),
        Ok(a) => c.fail(
            check,
            format!("{what}: {}", a.describe),
            "see the server's message; run again, and if it persists check the service status",
        ),
        Err(e) => c.fail(
            check,
            format!("{what}: {e}"),
            "check egress (proxy, firewall) to the host and try again",
        ),
    }
}

/// Of a 403's permissions (any one of which would do), the one that grants least: the
/// row-level permission over the table-level one (`architect:datatableRow:add` rather than
/// `architect:datatable:add`), the longest name being the most specific.
fn narrowest(listed: &str) -> &str {
    listed
        .split(',')
        .map(str::trim)
        .max_by_key(|p| p.len())
        .unwrap_or(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_narrowest_of_several_permissions_is_advised() {
        let any = "architect:datatable:add, architect:datatableRow:add";
        assert_eq!(narrowest(any), "architect:datatableRow:add");
        assert_eq!(
            narrowest("scripter:publishedScript:add"),
            "scripter:publishedScript:add"
        );
    }
}
