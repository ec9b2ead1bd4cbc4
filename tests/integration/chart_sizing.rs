//! The chart's default memory follows the sizing formula (`scriptsync::budget::sizing`): its
//! limit holds a replica that owns 1,000 tenants with twice the default in-flight budget held
//! (the most the shares allow just after the owned set grew), with a quarter to spare; its
//! request holds 100 tenants at the budget. Read from `values.yaml` as written.

use scriptsync::budget::predicted_rss_mib;

const VALUES: &str = include_str!("../../helm/scriptsync/values.yaml");

/// The value of `key:` on the first line after `after` that starts with it (indented).
fn value_after<'a>(after: &str, key: &str) -> &'a str {
    let start = VALUES
        .find(after)
        .unwrap_or_else(|| panic!("values.yaml has {after:?}"));
    VALUES[start..]
        .lines()
        .find_map(|line| line.trim().strip_prefix(key))
        .map(|v| v.trim().trim_matches('"'))
        .unwrap_or_else(|| panic!("values.yaml has {key} after {after:?}"))
}

fn mib(quantity: &str) -> f64 {
    if let Some(n) = quantity.strip_suffix("Mi") {
        n.parse().unwrap()
    } else if let Some(n) = quantity.strip_suffix("Gi") {
        n.parse::<f64>().unwrap() * 1024.0
    } else {
        panic!("a memory quantity in Mi or Gi: {quantity}")
    }
}

#[test]
fn the_charts_default_memory_follows_the_sizing_formula() {
    let budget: u64 = value_after("\nbroker:", "maxInflight:").parse().unwrap();
    let request = mib(value_after("\nresources:\n  requests:", "memory:"));
    let limit_section = &VALUES[VALUES.find("\nresources:").unwrap()..];
    let limit_at = limit_section.find("limits:").unwrap();
    let max = mib(limit_section[limit_at..]
        .lines()
        .find_map(|l| l.trim().strip_prefix("memory:"))
        .unwrap()
        .trim());
    let worst = predicted_rss_mib(1_000, 2 * budget) * 1.25;
    assert!(
        max >= worst,
        "limits.memory {max} MiB is below the formula's {worst:.0} MiB (1,000 tenants, \
         2 × maxInflight {budget} held, +25 %)"
    );
    assert!(
        max <= 2.0 * worst,
        "limits.memory {max} MiB is far above what the formula asks ({worst:.0} MiB): \
         lower it with the formula"
    );
    let typical = predicted_rss_mib(100, budget);
    assert!(
        request >= typical,
        "requests.memory {request} MiB is below the formula's {typical:.0} MiB (100 tenants, \
         maxInflight {budget} held)"
    );
}
