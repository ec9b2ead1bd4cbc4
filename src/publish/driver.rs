//! A run over many entries: each valid change is sent in input order, at most
//! [`Options::window`] wait for their confirm at once (the broker confirms in batches, so a
//! run costs far fewer round trips than changes), `--rate` paces the sends, and every entry
//! ends in exactly one [`Outcome`], handed to the caller as soon as it is known.

use std::io;
use std::num::NonZeroU32;

use futures::stream::FuturesUnordered;
use futures::{FutureExt, Stream, StreamExt};
use governor::{Quota, RateLimiter};

use super::input::{Entry, Position};
use super::publisher::ChangePublisher;
use super::summary::Outcome;

/// Changes waiting for their confirm at once: enough to keep the broker's confirm batches
/// full over a loopback or LAN link, small enough that a lost connection fails few of them.
pub const WINDOW: usize = 256;

/// How a run publishes.
#[derive(Debug, Clone)]
pub struct Options {
    /// At most this many changes per second (no burst); `None`: as fast as confirms allow.
    pub rate: Option<NonZeroU32>,
    /// At most this many changes waiting for their confirm.
    pub window: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rate: None,
            window: WINDOW,
        }
    }
}

/// Publishes every valid change of `entries` with `publisher` (`None`: a dry run, which only
/// validates) and reports each entry's outcome to `report`. Returns once every confirm is
/// in; an error means the input could not be read on, or the connection was lost (the
/// entries after it were not read).
pub async fn publish_entries<S>(
    mut publisher: Option<&mut ChangePublisher>,
    mut entries: S,
    options: &Options,
    mut report: impl FnMut(Position, Outcome),
) -> anyhow::Result<()>
where
    S: Stream<Item = io::Result<Entry>> + Unpin,
{
    let limiter = options
        .rate
        .map(|r| RateLimiter::direct(Quota::per_second(r).allow_burst(NonZeroU32::MIN)));
    let mut in_flight = FuturesUnordered::new();
    let mut stopped = Ok(());
    while let Some(entry) = entries.next().await {
        let Entry { at, change } = match entry {
            Ok(entry) => entry,
            Err(e) => {
                stopped = Err(anyhow::Error::new(e).context("cannot read the input on"));
                break;
            }
        };
        let change = match change {
            Ok(change) => change,
            Err(invalid) => {
                report(at, Outcome::Invalid(invalid.0));
                continue;
            }
        };
        let Some(publisher) = publisher.as_deref_mut() else {
            report(at, Outcome::Valid);
            continue;
        };
        // Settle what is already confirmed, then make room in the window.
        while let Some(Some((at, result))) = in_flight.next().now_or_never() {
            report(at, Outcome::from(result));
        }
        while in_flight.len() >= options.window.max(1) {
            if let Some((at, result)) = in_flight.next().await {
                report(at, Outcome::from(result));
            }
        }
        if let Some(limiter) = &limiter {
            limiter.until_ready().await;
        }
        match publisher.send(&change).await {
            Ok(pending) => in_flight.push(pending.confirmed().map(move |r| (at, r))),
            Err(e) => {
                report(at, Outcome::from(Err(e)));
                if !publisher.is_open() {
                    stopped = Err(anyhow::anyhow!(
                        "the broker connection was lost at {at}; the input after it was not read"
                    ));
                    break;
                }
            }
        }
    }
    while let Some((at, result)) = in_flight.next().await {
        report(at, Outcome::from(result));
    }
    stopped
}
