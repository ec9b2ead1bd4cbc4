//! Secrets never leak: a whole scenario runs with known secret values (Genesys and
//! ServiceNow client secrets, a ServiceNow password, a broker password, and the access
//! tokens the simulator issues) and every output channel is searched for them: the worker's
//! logs at trace level, its stdout, the DLQ headers and bodies, the admin endpoints
//! (`/status`, `/metrics`, ...) and `check-config`. The scenario is in `scenario`; here are
//! the secrets and the readers of the channels.

mod scenario;

use crate::common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BROKER_URL, change, eventually};
use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;
use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::config::BrokerSettings;
use scriptsync::config::simulator;
use scriptsync_sim::{Faults, SimTarget, TOKEN_PREFIX, fixtures};

const GENESYS_SECRET: &str = "GENESYS-SECRET-4f1d9c";
const SN_SECRET: &str = "SN-CLIENT-SECRET-77ab";
const SN_PASSWORD: &str = "SN-PASSWORD-9e0c3b";
const WRONG_SECRET: &str = "WRONG-SECRET-b2c8e1";
const BROKER_PASSWORD: &str = "BROKER-PASSWORD-5d2a7f";

fn rabbitmqctl(args: &[&str]) {
    let status = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl {args:?}");
}

/// Takes `n` dead letters off the DLQ (acking them): their bodies and headers as text, one
/// `name=value` line per header, for the search for secrets.
async fn dead_letters_as_text(conn: &lapin::Connection, names: &Names, n: usize) -> String {
    let ch = conn.create_channel().await.unwrap();
    let mut dlq_text = String::new();
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    while dlq_text.matches("x-scriptsync-reason=").count() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {n} dead letters:\n{dlq_text}"
        );
        match ch
            .basic_get(names.dlq().into(), BasicGetOptions::default())
            .await
            .unwrap()
        {
            Some(msg) => {
                dlq_text.push_str(&String::from_utf8_lossy(&msg.delivery.data));
                for (k, v) in msg
                    .delivery
                    .properties
                    .headers()
                    .clone()
                    .unwrap_or_default()
                    .inner()
                {
                    let v = match v {
                        AMQPValue::LongString(s) => {
                            String::from_utf8_lossy(s.as_bytes()).into_owned()
                        }
                        other => format!("{other:?}"),
                    };
                    dlq_text.push_str(&format!("\n{k}={v}"));
                }
                dlq_text.push('\n');
                msg.delivery.ack(BasicAckOptions::default()).await.unwrap();
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    dlq_text
}
