//! Where a tenant's requests go: the Genesys Cloud regions (API facts in `docs/genesys.md`,
//! "Regions") and whether a host resolves, within a bounded time.

use std::time::Duration;

use url::Url;

/// Genesys Cloud region domains (`https://api.<domain>`, `https://login.<domain>`).
pub const GENESYS_REGIONS: &[&str] = &[
    "mypurecloud.com",
    "use2.us-gov-pure.cloud",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "sae1.pure.cloud",
    "mxc1.pure.cloud",
    "mypurecloud.ie",
    "euw2.pure.cloud",
    "mypurecloud.de",
    "euc2.pure.cloud",
    "edee1.eusc-pure.cloud",
    "mec1.pure.cloud",
    "aps1.pure.cloud",
    "apse1.pure.cloud",
    "mypurecloud.com.au",
    "mypurecloud.jp",
    "apne2.pure.cloud",
    "apne3.pure.cloud",
];

/// How long a name lookup may take.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether `region` is a Genesys Cloud region domain.
pub fn is_genesys_region(region: &str) -> bool {
    GENESYS_REGIONS.contains(&region.to_ascii_lowercase().as_str())
}

/// The known region closest in spelling to `region` (for "did you mean"), if any is close.
pub fn nearest_region(region: &str) -> Option<&'static str> {
    let region = region.to_ascii_lowercase();
    GENESYS_REGIONS
        .iter()
        .map(|r| (strsim_distance(r, &region), *r))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, r)| r)
}

/// Levenshtein distance (the lists are tiny; no crate needed for 18 short names).
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Resolves the host of `url`; `Err` says why not (no such name, or no answer in time).
pub async fn resolve(url: &Url) -> Result<(), String> {
    let host = url.host_str().ok_or_else(|| format!("{url} has no host"))?;
    let port = url.port_or_known_default().unwrap_or(443);
    let lookup = tokio::net::lookup_host((host, port));
    match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(_) => Ok(()),
            None => Err(format!("{host} resolves to no address")),
        },
        Ok(Err(_)) => Err(format!("{host} does not resolve")),
        Err(_) => Err(format!(
            "{host}: no DNS answer within {} s",
            RESOLVE_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_known_and_typos_get_a_suggestion() {
        assert!(is_genesys_region("mypurecloud.de"));
        assert!(is_genesys_region("MyPureCloud.com"));
        assert!(!is_genesys_region("mypurecloud.cm"));
        assert_eq!(nearest_region("mypurecloud.cm"), Some("mypurecloud.com"));
        assert_eq!(nearest_region("example.org"), None);
    }

    #[tokio::test]
    async fn loopback_resolves() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        assert!(resolve(&url).await.is_ok());
        let url = Url::parse("http://localhost:9/").unwrap();
        assert!(resolve(&url).await.is_ok());
    }
}
