//! What the bench ran on, for the report header: cores, CPU model, kernel (`uname -r`),
//! the RabbitMQ version from the broker's own `connection.start` server properties, and the
//! build profile.
//!
//! lapin does not expose the server properties, so [`rabbitmq_version`] opens a plain TCP
//! connection, sends the AMQP 0-9-1 protocol header and reads the `version` field of the
//! first frame, then hangs up.

use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// The machine and build behind one report.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub kernel: String,
    pub rabbitmq: String,
    pub profile: String,
    pub worker_bin: String,
}

impl Machine {
    pub async fn describe(broker_url: &str, worker_bin: &str) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        let rabbitmq = tokio::time::timeout(Duration::from_secs(5), rabbitmq_version(broker_url))
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "unknown".into());
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            kernel,
            rabbitmq,
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            worker_bin: worker_bin.to_owned(),
        }
    }
}

/// The broker's `version` server property, read from its `connection.start` frame.
pub async fn rabbitmq_version(broker_url: &str) -> Option<String> {
    // The first node of a comma-separated list speaks for the cluster.
    let url =
        Url::parse(&scriptsync::config::BrokerSettings::with_addresses(broker_url).url).ok()?;
    let host = url.host_str()?.to_owned();
    let port = url.port().unwrap_or(5672);
    let mut socket = TcpStream::connect((host.as_str(), port)).await.ok()?;
    socket.write_all(b"AMQP\x00\x00\x09\x01").await.ok()?;
    let mut head = [0u8; 7];
    socket.read_exact(&mut head).await.ok()?;
    let size = u32::from_be_bytes(head[3..7].try_into().ok()?) as usize;
    let mut payload = vec![0u8; size.min(1 << 16)];
    socket.read_exact(&mut payload).await.ok()?;
    // class 10, method 10, version-major, version-minor, then the server-properties table.
    let table = payload.get(6..)?;
    find_long_string(table, "version")
}

/// The long-string entry `key` of an AMQP field table (length-prefixed), if present.
fn find_long_string(table: &[u8], key: &str) -> Option<String> {
    let len = u32::from_be_bytes(table.get(..4)?.try_into().ok()?) as usize;
    let mut rest = table.get(4..4 + len)?;
    while !rest.is_empty() {
        let name_len = usize::from(rest[0]);
        let name = rest.get(1..1 + name_len)?;
        let kind = *rest.get(1 + name_len)?;
        rest = rest.get(2 + name_len..)?;
        // Only long strings ('S') and nested tables ('F') appear at the top level here;
        // both are a u32 length and that many bytes.
        if kind != b'S' && kind != b'F' {
            return None;
        }
        let n = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let value = rest.get(4..4 + n)?;
        if kind == b'S' && name == key.as_bytes() {
            return Some(String::from_utf8_lossy(value).into_owned());
        }
        rest = rest.get(4 + n..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_long_string_after_a_nested_table() {
        let mut entries = Vec::new();
        entries.extend([4u8]);
        entries.extend(b"caps");
        entries.push(b'F');
        entries.extend(2u32.to_be_bytes());
        entries.extend([0, 0]);
        entries.push(7);
        entries.extend(b"version");
        entries.push(b'S');
        entries.extend(6u32.to_be_bytes());
        entries.extend(b"3.10.8");
        let mut table = (entries.len() as u32).to_be_bytes().to_vec();
        table.extend(entries);
        assert_eq!(
            find_long_string(&table, "version").as_deref(),
            Some("3.10.8")
        );
        assert_eq!(find_long_string(&table, "product"), None);
    }
}
