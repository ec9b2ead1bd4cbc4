//! What became of each entry ([`Outcome`]), the counts of a run ([`Summary`]) and the
//! progress line a long run prints on stderr.

use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use super::publisher::PublishFailure;

/// How often a running publish prints a progress line (the first after this long, so a
/// short run prints none).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// What became of one entry of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Confirmed by the broker, routed to the tenant's queue.
    Published,
    /// Dry run: a valid change, not sent.
    Valid,
    /// Not a valid change (the decoder's reason).
    Invalid(String),
    /// No queue for the tenant: no worker would receive it.
    Unroutable(String),
    /// Sent and not confirmed, or not sendable.
    Failed(String),
}

impl From<Result<(), PublishFailure>> for Outcome {
    fn from(result: Result<(), PublishFailure>) -> Self {
        match result {
            Ok(()) => Outcome::Published,
            Err(e @ PublishFailure::Unroutable { .. }) => Outcome::Unroutable(e.to_string()),
            Err(e @ PublishFailure::TooLarge { .. }) => Outcome::Invalid(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

impl Outcome {
    /// The text to show for a problem; `None` for a success.
    pub fn problem(&self) -> Option<String> {
        match self {
            Outcome::Published | Outcome::Valid => None,
            Outcome::Invalid(why) => Some(format!("invalid: {why}")),
            Outcome::Unroutable(why) | Outcome::Failed(why) => Some(why.clone()),
        }
    }
}

/// The counts of a run; every entry read ends in exactly one of the other counts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub read: u64,
    pub invalid: u64,
    pub published: u64,
    /// Dry run: valid changes (nothing is sent).
    pub valid: u64,
    pub unroutable: u64,
    pub failed: u64,
}

impl Summary {
    pub fn record(&mut self, outcome: &Outcome) {
        self.read += 1;
        *match outcome {
            Outcome::Published => &mut self.published,
            Outcome::Valid => &mut self.valid,
            Outcome::Invalid(_) => &mut self.invalid,
            Outcome::Unroutable(_) => &mut self.unroutable,
            Outcome::Failed(_) => &mut self.failed,
        } += 1;
    }

    /// True if no entry failed (invalid, unroutable or not confirmed).
    pub fn all_ok(&self) -> bool {
        self.invalid + self.unroutable + self.failed == 0
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "read {}, invalid {}", self.read, self.invalid)?;
        if self.valid > 0 || self.published + self.unroutable + self.failed == 0 {
            write!(f, ", valid {}", self.valid)?;
        }
        write!(
            f,
            ", published {}, unroutable {}, failed {}",
            self.published, self.unroutable, self.failed
        )
    }
}

/// Prints `publish: <summary> (<rate>/s)` on stderr every [`PROGRESS_EVERY`].
pub struct Progress {
    started: Instant,
    last: Instant,
}

impl Default for Progress {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
        }
    }
}

impl Progress {
    /// Prints a line if one is due.
    pub fn tick(&mut self, summary: &Summary) {
        if self.last.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(f64::EPSILON);
        eprintln!(
            "publish: {summary} ({:.0} changes/s)",
            summary.read as f64 / secs
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_lands_in_one_count_and_any_problem_fails_the_run() {
        let mut s = Summary::default();
        for _ in 0..3 {
            s.record(&Outcome::Published);
        }
        assert!(s.all_ok());
        assert_eq!(
            s.to_string(),
            "read 3, invalid 0, published 3, unroutable 0, failed 0"
        );
        s.record(&Outcome::Invalid("line 2: x".into()));
        s.record(&Outcome::Unroutable("no queue".into()));
        s.record(&Outcome::Failed("nacked".into()));
        assert!(!s.all_ok());
        assert_eq!((s.read, s.invalid, s.unroutable, s.failed), (6, 1, 1, 1));

        let mut dry = Summary::default();
        dry.record(&Outcome::Valid);
        assert!(dry.all_ok());
        assert_eq!(
            dry.to_string(),
            "read 1, invalid 0, valid 1, published 0, unroutable 0, failed 0"
        );
    }

    #[test]
    fn a_too_large_change_counts_as_invalid_and_successes_have_no_problem_text() {
        let too_large = Err(PublishFailure::TooLarge {
            bytes: 70_000,
            limit: 65_536,
        });
        let outcome = Outcome::from(too_large);
        assert!(matches!(outcome, Outcome::Invalid(_)), "{outcome:?}");
        assert!(outcome.problem().unwrap().contains("70000 bytes"));
        assert_eq!(Outcome::from(Ok(())), Outcome::Published);
        assert_eq!(Outcome::Published.problem(), None);
        assert_eq!(Outcome::Valid.problem(), None);
    }
}
