//! Broker loss: the worker's connections are closed from the broker side, and separately the
//! broker app is stopped and started, while pushes are in flight. The worker reconnects with
//! backoff, `/readyz` is false meanwhile and true after, and every change is delivered at its
//! newest version with nothing lost and no older version over a newer one.
//!
//! These tests disturb every client of the local broker, so this binary serializes its own
//! tests (cargo runs test binaries one after another), and the broker app is always started
//! again, even when a test fails.
//!
//! Here, the binary's root: the lock that serializes its tests, `rabbitmqctl` and the
//! worker's reconnects as its log counts them; the tests in `broker_faults/`:
//! `connection_loss` (connections closed, the broker app stopped and started) and
//! `consumer_timeout` (a long pause against the broker's `consumer_timeout`).

mod common;

#[path = "broker_faults/connection_loss.rs"]
mod connection_loss;
#[path = "broker_faults/consumer_timeout.rs"]
mod consumer_timeout;

use std::process::Command;

use common::process::Harness;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rabbitmqctl(args: &[&str]) -> bool {
    Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn reconnect_attempts(h: &Harness) -> usize {
    std::fs::read_to_string(&h.log)
        .unwrap_or_default()
        .matches("broker connection lost; reconnecting")
        .count()
}
