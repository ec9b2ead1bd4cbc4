//! The retry and rate-limit machinery every target request goes through (DESIGN §6).
//!
//! - [`classify`](mod@classify): one answer → [`Class`] (success, rate-limited, transient,
//!   auth, permanent).
//! - [`retry_after`]: how long the server asked us to wait; clamp and jitter.
//! - [`schedule`]: the backoff schedules from the retry settings (backon).
//! - [`gate`]: one [`Gate`] per (tenant, target): the AIMD token bucket ([`rate`]), the
//!   shared [`pause`] (and its probe), the concurrency cap; its shape is a [`GateConfig`]
//!   ([`gate_config`]).
//! - [`auth`] + [`credential`]: the token cache per (tenant, target) and what signs a request.
//! - [`body`]: response bodies read with a size limit.
//! - [`reply`]: the [`Reply`] a target judges, and short error texts without secrets.
//! - [`client`]: [`PushClient::send`], which ties them together for one logical request, and
//!   [`PushClient::attempt_admitted`], one attempt of a request a lane already had admitted
//!   ([`attempt`]: one attempt's failure and the final `PushFailure`).
//! - [`outcome`]: [`PushFailure`] (a change's final failure at a target) and the
//!   [`TargetContext`] every target's client is built from.
//! - [`retries`]: [`Retries`], the one retry engine: after each failed attempt, wait (how
//!   long) or give up, with a budget that counts failures, never the waits a server asked for.

pub mod attempt;
pub mod auth;
pub mod body;
pub mod classify;
pub mod client;
pub mod credential;
pub mod gate;
pub mod gate_config;
pub mod oauth_http;
pub mod outcome;
pub mod pause;
pub mod rate;
mod rate_limiter;
pub mod reply;
pub mod retries;
pub mod retry_after;
pub mod schedule;

pub use attempt::AttemptError;
pub use auth::{AuthError, TokenCache};
pub use classify::{Class, Observed, Refusal, TransportKind, classify};
pub use client::{Judged, PushClient};
pub use credential::{AuthMethod, Credential};
pub use gate::{Gate, GateConfig, GatePermit, GateSnapshot};
pub use outcome::{FailureReason, PushFailure, TargetContext};
pub use reply::Reply;
pub use retries::Retries;
pub use schedule::Schedule;

use url::Url;

/// `base` with `segments` appended, each percent-encoded as one path segment (script ids
/// are arbitrary strings). `None` if `base` cannot hold a path (`mailto:` and the like) or a
/// segment is `.` or `..`: no URL path can hold those literally (they, and their encoded
/// forms, are dot-segments that address another path), so the caller must refuse them.
pub fn endpoint(base: &Url, segments: &[&str]) -> Option<Url> {
    if segments.iter().any(|s| matches!(*s, "." | "..")) {
        return None;
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(segments);
    Some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_encodes_each_segment() {
        let base = Url::parse("http://127.0.0.1:8080").unwrap();
        let url = endpoint(&base, &["api", "v2", "rows", "a/b c?d#e%"]).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/api/v2/rows/a%2Fb%20c%3Fd%23e%25"
        );
        let base = Url::parse("https://x.example/prefix/").unwrap();
        let url = endpoint(&base, &["oauth", "token"]).unwrap();
        assert_eq!(url.as_str(), "https://x.example/prefix/oauth/token");
        assert!(endpoint(&Url::parse("mailto:a@b").unwrap(), &["x"]).is_none());
        // Dot-segments would address the parent path, not a row: refused, not dropped.
        for dots in [".", ".."] {
            assert!(endpoint(&base, &["rows", dots]).is_none(), "{dots}");
        }
        let url = endpoint(&base, &["rows", "...", "%2e%2e", "../x"]).unwrap();
        assert_eq!(
            url.path(),
            "/prefix/rows/.../%252e%252e/..%2Fx",
            "other dots stay literal"
        );
    }
}
