//! The worker as a child process, seen from outside: its `/readyz`, a signal sent to it,
//! waiting for its exit, its peak resident memory.

use std::process::{Child, Command};
use std::time::Duration;

/// The worker's `/readyz` status, or `None` when it does not answer within 2 s.
pub async fn readyz(admin: &str) -> Option<u16> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    client
        .get(format!("http://{admin}/readyz"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success(), "kill -{sig}");
}

pub async fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "worker did not exit within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Peak resident memory of a process, from /proc (kB).
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
