//! What `scriptsync doctor` found: one [`Finding`] per check, in the order they ran, printed
//! one line each (`✔`, `⚠`, `✘`, `·` for a check skipped because an earlier one failed) with
//! what to do, or as JSON (`--json`). Exit code: 0 when nothing failed (warnings allowed), 1
//! when a check failed; usage errors exit 2 before any check runs.
//!
//! Nothing here ever holds a secret: details are built from statuses, ids, names and the
//! servers' error codes and messages, never from a token, password or client secret.

use std::process::ExitCode;

use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Worth knowing, but nothing is broken (exit code unaffected).
    Warn,
    Fail,
    /// Not run: a check it depends on failed.
    Skipped,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✔",
            Status::Warn => "⚠",
            Status::Fail => "✘",
            Status::Skipped => "·",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `broker`, or the tenant's id.
    pub scope: String,
    /// `genesys`, `servicenow`, or absent for the broker and tenant-wide checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'static str>,
    /// A short stable name (`token`, `datatable.schema`, …), for automation.
    pub check: &'static str,
    pub status: Status,
    /// What was seen.
    pub detail: String,
    /// What to do about it (failures and warnings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

/// The findings of one run, in order.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub ok: bool,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Adds the findings of one scope.
    pub fn extend(&mut self, findings: impl IntoIterator<Item = Finding>) {
        self.findings.extend(findings);
        self.ok = !self.findings.iter().any(|f| f.status == Status::Fail);
    }

    /// 0 when no check failed, 1 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        if self.findings.iter().any(|f| f.status == Status::Fail) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }

    /// One heading per scope and target, one line per check, the advice indented under it,
    /// then a count.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut heading: Option<(&str, Option<&str>)> = None;
        for f in &self.findings {
            let this = (f.scope.as_str(), f.target);
            if heading != Some(this) {
                match f.target {
                    Some(target) => out.push_str(&format!("{} · {target}\n", f.scope)),
                    None => out.push_str(&format!("{}\n", f.scope)),
                }
                heading = Some(this);
            }
            out.push_str(&format!(
                "  {} {:<18} {}\n",
                f.status.mark(),
                f.check,
                f.detail
            ));
            if let Some(advice) = &f.advice {
                out.push_str(&format!("      → {advice}\n"));
            }
        }
        let count = |s| self.findings.iter().filter(|f| f.status == s).count();
        out.push_str(&format!(
            "{} passed, {} warning(s), {} failed, {} skipped\n",
            count(Status::Ok),
            count(Status::Warn),
            count(Status::Fail),
            count(Status::Skipped)
        ));
        out
    }
}

/// Builds the findings of one scope (and target) with little ceremony.
#[derive(Debug)]
pub struct Checks {
    scope: String,
    target: Option<&'static str>,
    pub findings: Vec<Finding>,
}

impl Checks {
    pub fn new(scope: &str, target: Option<&'static str>) -> Self {
        Self {
            scope: scope.to_owned(),
            target,
            findings: Vec::new(),
        }
    }

    /// The tenant (or `broker`) these checks are for.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    fn push(
        &mut self,
        check: &'static str,
        status: Status,
        detail: String,
        advice: Option<String>,
    ) {
        self.findings.push(Finding {
            scope: self.scope.clone(),
            target: self.target,
            check,
            status,
            detail,
            advice,
        });
    }

    pub fn ok(&mut self, check: &'static str, detail: impl Into<String>) {
        self.push(check, Status::Ok, detail.into(), None);
    }

    pub fn warn(
        &mut self,
        check: &'static str,
        detail: impl Into<String>,
        advice: impl Into<String>,
    ) {
        self.push(check, Status::Warn, detail.into(), Some(advice.into()));
    }

    pub fn fail(
        &mut self,
        check: &'static str,
        detail: impl Into<String>,
        advice: impl Into<String>,
    ) {
        self.push(check, Status::Fail, detail.into(), Some(advice.into()));
    }

    /// `checks` were not run because `why`.
    pub fn skip(&mut self, checks: &[&'static str], why: &str) {
        for check in checks {
            self.push(check, Status::Skipped, format!("not checked: {why}"), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_sets_the_exit_code_and_a_warning_does_not() {
        let mut checks = Checks::new("acme", Some("genesys"));
        checks.ok("token", "got a token");
        checks.warn(
            "datatable.rows",
            "4,600 of 5,000 rows",
            "retire old scripts",
        );
        let mut report = Report::default();
        report.extend(checks.findings);
        assert!(report.ok);
        assert_eq!(report.exit_code(), ExitCode::SUCCESS);
        let mut more = Checks::new("broker", None);
        more.fail("reachable", "connection refused", "start RabbitMQ");
        more.skip(&["topology"], "the broker is unreachable");
        report.extend(more.findings);
        assert!(!report.ok);
        assert_eq!(report.exit_code(), ExitCode::FAILURE);
        let text = report.render();
        assert!(text.contains("acme · genesys\n  ✔ token"), "{text}");
        assert!(text.contains("      → start RabbitMQ"), "{text}");
        assert!(text.contains("  · topology"), "{text}");
        assert!(
            text.ends_with("1 passed, 1 warning(s), 1 failed, 1 skipped\n"),
            "{text}"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["findings"][2]["status"], "fail");
        assert!(json["findings"][2].get("target").is_none());
    }
}
