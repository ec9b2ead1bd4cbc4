//! A local 3-node RabbitMQ cluster, for the broker_cluster tests (which compile this file as
//! `common::cluster`) and for `scriptsync chaos --cluster`, beside the machine's own broker (which it never
//! touches): each node gets its own node name (unique per run), AMQP port, distribution port,
//! data and log folders, `rabbitmq.conf`, env file and empty enabled-plugins file, all under one
//! temporary directory. The nodes boot in parallel from the package's own
//! `/usr/lib/rabbitmq/bin/rabbitmq-server` script, each in its own process group; nodes 2 and 3
//! then join node 1. Dropping the [`LocalCluster`] (also when the test panics) stops every
//! node with `rabbitmqctl stop`, kills what is left of its process group and removes the
//! directory.
//!
//! The Erlang cookie: as root, `rabbitmqctl` (the PATH wrapper) switches to the `rabbitmq`
//! user and reads the cookie in that user's home, so the nodes are started with `HOME` set to
//! that home and read the same cookie. That is why the cluster needs root (CI runs as root);
//! elsewhere, or where `rabbitmq-server` is missing, [`LocalCluster::start`] prints a
//! `SKIPPED:` line and returns `None`.
//!
//! Here, the cluster: its ports, the boot and the join, the nodes' URLs, stopping and
//! starting a node's app, what `rabbitmqctl` lists, and the shutdown; one node (its files,
//! its start, `rabbitmqctl` against it) in `node`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod node;

use node::{Node, ctl, spawn_node, unavailable};

pub struct LocalCluster {
    dir: PathBuf,
    nodes: Vec<Node>,
    /// From the first spawn to all three nodes booted (before the join).
    pub boot_time: Duration,
    /// The join of nodes 2 and 3 (stop_app, join_cluster, start_app).
    pub join_time: Duration,
}

/// `n` distinct free loopback ports (all listeners held until every port is chosen).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl LocalCluster {
    /// Boots and joins three nodes; `None` (after printing why) where that cannot run here.
    pub fn start() -> Option<Self> {
        if let Some(why) = unavailable() {
            // Straight to the process's stderr: libtest captures `eprintln!` of passing tests,
            // and this must show in a plain `cargo test`.
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
            return None;
        }
        let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
        let dir = std::env::temp_dir().join(format!("scriptsync-cluster-{run}"));
        let ports = free_ports(6);
        let started = Instant::now();
        // Each node goes into the cluster as soon as it is spawned, so Drop stops it whatever
        // happens next (a later spawn failing, a boot timing out).
        let mut cluster = Self {
            dir: dir.clone(),
            nodes: Vec::new(),
            boot_time: Duration::ZERO,
            join_time: Duration::ZERO,
        };
        for i in 0..3 {
            let name = format!("ssc{run}{}@localhost", i + 1);
            let node_dir = dir.join(format!("n{}", i + 1));
            let child = spawn_node(&node_dir, &name, ports[i], ports[3 + i]);
            cluster.nodes.push(Node {
                name,
                port: ports[i],
                dir: node_dir,
                child,
                up: AtomicBool::new(true),
            });
        }
        std::thread::scope(|s| {
            let waits: Vec<_> = cluster
                .nodes
                .iter()
                .map(|n| s.spawn(|| n.wait_booted()))
                .collect();
            for w in waits {
                w.join().unwrap();
            }
        });
        cluster.boot_time = started.elapsed();
        let joined = Instant::now();
        let first = cluster.nodes[0].name.clone();
        std::thread::scope(|s| {
            let joins: Vec<_> = cluster.nodes[1..]
                .iter()
                .map(|n| {
                    let first = &first;
                    s.spawn(move || {
                        n.ctl_ok(&["stop_app"]);
                        n.ctl_ok(&["join_cluster", first]);
                        n.ctl_ok(&["start_app"]);
                        n.ctl_ok(&["await_startup", "--timeout", "120"]);
                    })
                })
                .collect();
            for j in joins {
                j.join().unwrap();
            }
        });
        cluster.join_time = joined.elapsed();
        let status = cluster.nodes[0].ctl_ok(&["cluster_status", "--formatter", "json"]);
        for n in &cluster.nodes {
            assert!(
                status.contains(&format!("\"{}\"", n.name)),
                "{} not in the cluster: {status}",
                n.name
            );
        }
        eprintln!(
            "local cluster {:?} up: boot {:.1} s, join {:.1} s, AMQP ports {:?}",
            cluster.names(),
            cluster.boot_time.as_secs_f64(),
            cluster.join_time.as_secs_f64(),
            cluster.nodes.iter().map(|n| n.port).collect::<Vec<_>>()
        );
        Some(cluster)
    }

    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// One AMQP URL per node, in node order. No credentials: the worker refuses a password
    /// in `broker.url(s)` and uses RabbitMQ's `guest` account on loopback by itself.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("amqp://127.0.0.1:{}/%2f", n.port))
            .collect()
    }

    pub fn url(&self, i: usize) -> String {
        self.urls()[i].clone()
    }

    /// Stops the broker app of node `i` (`stop_app`; the Erlang VM stays up).
    pub async fn stop_node(&self, i: usize) {
        let node = &self.nodes[i];
        node.up.store(false, Ordering::SeqCst);
        tokio::task::block_in_place(|| node.ctl_ok(&["stop_app"]));
    }

    /// Starts the broker app of node `i` again and waits until it has booted.
    pub async fn start_node(&self, i: usize) {
        let node = &self.nodes[i];
        tokio::task::block_in_place(|| {
            node.ctl_ok(&["start_app"]);
            node.ctl_ok(&["await_startup", "--timeout", "120"]);
        });
        node.up.store(true, Ordering::SeqCst);
    }

    /// `rabbitmqctl` on the first node that is up (for cluster-wide listings).
    pub fn ctl_any(&self, args: &[&str]) -> Result<String, String> {
        let node = self
            .nodes
            .iter()
            .find(|n| n.up.load(Ordering::SeqCst))
            .ok_or("no node is up")?;
        ctl(&node.name, args)
    }

    /// The node that the client connection named `connection_name` is attached to (by the
    /// server port of `list_connections`, which lists the connections of every running node).
    pub async fn node_serving(&self, connection_name: &str) -> Option<usize> {
        let needle = format!("{{\"connection_name\",\"{connection_name}\"}}");
        let listing = tokio::task::block_in_place(|| {
            self.ctl_any(&[
                "list_connections",
                "--no-table-headers",
                "port",
                "client_properties",
            ])
        })
        .ok()?;
        let port: u16 = listing
            .lines()
            .find(|l| l.contains(&needle))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        self.nodes.iter().position(|n| n.port == port)
    }

    /// `list_queues` with `columns`, from any node that is up (for the record).
    pub async fn list_queues(&self, columns: &[&str]) -> String {
        let mut args = vec!["list_queues"];
        args.extend_from_slice(columns);
        tokio::task::block_in_place(|| self.ctl_any(&args)).unwrap_or_else(|e| e)
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let started = Instant::now();
        std::thread::scope(|s| {
            for n in &mut self.nodes {
                s.spawn(|| n.shut_down());
            }
        });
        let _ = std::fs::remove_dir_all(&self.dir);
        eprintln!(
            "local cluster {:?} stopped in {:.1} s",
            self.names(),
            started.elapsed().as_secs_f64()
        );
    }
}
