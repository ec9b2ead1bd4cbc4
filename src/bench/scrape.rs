//! The worker's `/metrics` as the bench reads it: Prometheus text parsed into samples, summed
//! by family and labels. Enough for the counters and gauges the bench watches (consumed, in
//! flight, 429s); histograms and comments are skipped.

/// One scrape of `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Scrape {
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        Self { samples }
    }

    /// Sum of `family` over the samples carrying every `(label, value)` given.
    pub fn sum(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == family)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.value)
            .sum()
    }
}

/// `name{a="x",b="y"} value` or `name value`.
fn parse_line(line: &str) -> Option<Sample> {
    let (head, value) = line.trim().rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let (name, labels) = match head.split_once('{') {
        None => (head, Vec::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"` (label values here never hold quotes or commas).
fn parse_labels(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_families_by_labels() {
        let text = "# TYPE scriptsync_inflight gauge\n\
            scriptsync_inflight{tenant=\"a\"} 2\n\
            scriptsync_inflight{tenant=\"b\"} 3\n\
            scriptsync_rate_limited_total{target=\"genesys\",tenant=\"a\"} 4\n\
            scriptsync_end_to_end_seconds_bucket{le=\"+Inf\"} 9\n\
            plain_total 1.5\n";
        let s = Scrape::parse(text);
        assert_eq!(s.sum("scriptsync_inflight", &[]), 5.0);
        assert_eq!(s.sum("scriptsync_inflight", &[("tenant", "b")]), 3.0);
        assert_eq!(
            s.sum("scriptsync_rate_limited_total", &[("target", "genesys")]),
            4.0
        );
        assert_eq!(s.sum("plain_total", &[]), 1.5);
        assert_eq!(s.sum("missing", &[]), 0.0);
    }
}
