//! [`BatchState`]: the progress of each item of one batch push across its calls. Each call
//! carries only the items still owed; an item's outcome is final once delivered or refused,
//! and items still owed when the retries end fail with their own last error.

use crate::push::reply;
use crate::targets::{FailureReason, PushFailure, PushOutcome};

use super::judge::{ItemVerdict, judge_batch};

/// Per-item progress of one batch push across its calls.
pub(super) struct BatchState {
    outcomes: Vec<Option<PushOutcome>>,
    /// Batch calls each item was part of.
    tries: Vec<u32>,
    /// Why each owed item is still owed.
    last: Vec<Option<(Option<u16>, String)>>,
    in_call: Vec<usize>,
}

impl BatchState {
    pub(super) fn new(n: usize) -> Self {
        Self {
            outcomes: vec![None; n],
            tries: vec![0; n],
            last: vec![None; n],
            in_call: Vec::new(),
        }
    }

    /// The items owed, which the next call carries.
    pub(super) fn start_call(&mut self) -> Vec<usize> {
        self.in_call = (0..self.outcomes.len())
            .filter(|&i| self.outcomes[i].is_none())
            .collect();
        for &i in &self.in_call {
            self.tries[i] += 1;
        }
        self.in_call.clone()
    }

    pub(super) fn judge(&mut self, ids: &[String], body: &[u8]) {
        let sent: Vec<&str> = self.in_call.iter().map(|&i| ids[i].as_str()).collect();
        for (&i, verdict) in self.in_call.iter().zip(judge_batch(body, &sent)) {
            self.outcomes[i] = match verdict {
                ItemVerdict::Delivered => Some(PushOutcome::Delivered {
                    attempts: self.tries[i],
                    correlation_id: None,
                }),
                ItemVerdict::Permanent { status, message } => {
                    Some(PushOutcome::Failed(PushFailure {
                        reason: FailureReason::Permanent,
                        status: Some(status),
                        error: message,
                        attempts: self.tries[i],
                        correlation_id: None,
                    }))
                }
                ItemVerdict::Retry { status, message } => {
                    self.last[i] = Some((status, message));
                    None
                }
            };
        }
    }

    pub(super) fn pending_count(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_none()).count()
    }

    /// Every outcome; items still owed fail with `failure` (or their own last error).
    pub(super) fn finish(self, failure: Option<PushFailure>) -> Vec<PushOutcome> {
        let failure = failure.unwrap_or_else(|| PushFailure {
            reason: FailureReason::Exhausted,
            status: None,
            error: "batch: item not answered".into(),
            attempts: 0,
            correlation_id: None,
        });
        let Self {
            outcomes,
            tries,
            last,
            ..
        } = self;
        outcomes
            .into_iter()
            .zip(tries.into_iter().zip(last))
            .map(|(outcome, (tries, last))| {
                outcome.unwrap_or_else(|| {
                    let mut f = PushFailure {
                        attempts: tries,
                        ..failure.clone()
                    };
                    if let (FailureReason::Exhausted, Some((status, message))) = (f.reason, last) {
                        f.status = status.or(f.status);
                        f.error = reply::truncate(
                            &format!("{message} (gave up after {tries} batch calls)"),
                            reply::MAX_ERROR_BYTES,
                        );
                    }
                    PushOutcome::Failed(f)
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::judge::tests::{import, sub};
    use super::*;
    use serde_json::json;

    #[test]
    fn batch_state_retries_only_the_owed_items() {
        let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let mut st = BatchState::new(3);
        assert_eq!(st.start_call(), vec![0, 1, 2]);
        let first = json!({"serviced_requests": [sub("a", 201, &import("inserted", None)),
                                                 sub("b", 201, &import("error", Some("nope")))],
                           "unserviced_requests": ["c"]});
        st.judge(&ids, first.to_string().as_bytes());
        assert_eq!(st.pending_count(), 1);
        assert_eq!(st.start_call(), vec![2]);
        let exhausted = PushFailure {
            reason: FailureReason::Exhausted,
            status: Some(200),
            error: "batch: 1 of 3 items still owed".into(),
            attempts: 2,
            correlation_id: None,
        };
        let out = st.finish(Some(exhausted));
        assert_eq!(
            out[0],
            PushOutcome::Delivered {
                attempts: 1,
                correlation_id: None
            }
        );
        let PushOutcome::Failed(b) = &out[1] else {
            panic!("{:?}", out[1])
        };
        assert_eq!(
            (b.reason, b.status, b.attempts),
            (FailureReason::Permanent, Some(201), 1)
        );
        let PushOutcome::Failed(c) = &out[2] else {
            panic!("{:?}", out[2])
        };
        assert_eq!((c.reason, c.attempts), (FailureReason::Exhausted, 2));
        assert_eq!(c.error, "batch: not serviced (gave up after 2 batch calls)");
    }
}
