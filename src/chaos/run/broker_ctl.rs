//! The broker a chaos run uses, as the nemesis and the ending see it: the machine's own
//! RabbitMQ, or a local 3-node cluster started for the run (`--cluster`). `rabbitmqctl`
//! lists and closes the workers' connections (found by their connection name) and reads the
//! run's queue depths; in a cluster it also stops and starts a node.

use std::process::Command;

use anyhow::Context as _;

use crate::chaos::cluster::LocalCluster;

/// The run's broker.
pub struct BrokerCtl {
    /// The workers' AMQP connection name (`scriptsync worker <prefix>`).
    connection_name: String,
    prefix: String,
    cluster: Option<LocalCluster>,
}

impl BrokerCtl {
    pub fn new(prefix: &str, cluster: Option<LocalCluster>) -> Self {
        Self {
            connection_name: format!("scriptsync worker {prefix}"),
            prefix: prefix.to_owned(),
            cluster,
        }
    }

    /// The AMQP URLs to give workers and publishers (comma-separated for a cluster).
    pub fn urls(&self, single: &str) -> String {
        match &self.cluster {
            Some(c) => c.urls().join(","),
            None => single.to_owned(),
        }
    }

    /// How many nodes the nemesis may stop (0 for the machine's single broker).
    pub fn stoppable_nodes(&self) -> usize {
        self.cluster.as_ref().map_or(0, |c| c.names().len())
    }

    /// `rabbitmqctl args…` against the run's broker (a node that is up, in a cluster).
    async fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        if let Some(c) = &self.cluster {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            return tokio::task::block_in_place(|| c.ctl_any(&refs))
                .map_err(|e| anyhow::anyhow!("rabbitmqctl {}: {e}", args.join(" ")));
        }
        let out = tokio::task::spawn_blocking(move || {
            Command::new("rabbitmqctl").arg("-q").args(&args).output()
        })
        .await?
        .context("chaos: running rabbitmqctl")?;
        anyhow::ensure!(
            out.status.success(),
            "rabbitmqctl: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Closes every connection of the run's workers; returns how many.
    pub async fn close_worker_connections(&self) -> anyhow::Result<usize> {
        let listing = self
            .ctl(&[
                "list_connections",
                "--no-table-headers",
                "pid",
                "client_properties",
            ])
            .await?;
        let wanted = format!("{{\"connection_name\",\"{}\"}}", self.connection_name);
        let pids: Vec<String> = listing
            .lines()
            .filter(|l| l.contains(&wanted))
            .filter_map(|l| l.split('\t').next().map(str::to_owned))
            .collect();
        for pid in &pids {
            // A connection may have gone by itself meanwhile: not an error of the run.
            let _ = self
                .ctl(&["close_connection", pid, "chaos: connection closed"])
                .await;
        }
        Ok(pids.len())
    }

    /// Messages (ready + unacknowledged) in each of the run's queues, by name.
    pub async fn queue_depths(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let listing = self
            .ctl(&["list_queues", "--no-table-headers", "name", "messages"])
            .await?;
        Ok(listing
            .lines()
            .filter_map(|l| {
                let mut cols = l.split_whitespace();
                let name = cols.next()?;
                let n = cols.next()?.parse().ok()?;
                name.starts_with(&format!("{}.", self.prefix))
                    .then(|| (name.to_owned(), n))
            })
            .collect())
    }

    /// Stops node `i` of the cluster.
    pub async fn stop_node(&self, i: usize) -> anyhow::Result<()> {
        let c = self
            .cluster
            .as_ref()
            .context("chaos: no cluster to stop a node of")?;
        c.stop_node(i).await;
        Ok(())
    }

    /// Starts node `i` of the cluster again.
    pub async fn start_node(&self, i: usize) -> anyhow::Result<()> {
        let c = self
            .cluster
            .as_ref()
            .context("chaos: no cluster to start a node of")?;
        c.start_node(i).await;
        Ok(())
    }
}
