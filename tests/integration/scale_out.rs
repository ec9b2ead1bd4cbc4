//! Several worker processes on one prefix (DESIGN §8): the tenants spread over the replicas,
//! exactly one replica sends for a tenant at a time (the simulator's per-request
//! `X-Scriptsync-Replica` shows no interleaving), and when a replica is killed its tenants
//! continue on the others with nothing lost and nothing written older-over-newer.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::process::signal;
use common::{BROKER_URL, KillOnDrop, change, eventually};
use scriptsync::broker::{self, Names, Publisher, Topology};
use scriptsync::config::BrokerSettings;
use scriptsync::config::simulator;
use scriptsync_sim::{SimHandle, fixtures};

const TENANTS: usize = 12;
const SCRIPTS: u64 = 4;

struct Cluster {
    dir: PathBuf,
    names: Names,
    sim: SimHandle,
    tenants: Vec<String>,
    quota: Quota,
    scripts: u64,
}

/// The Genesys quota the simulator enforces and the workers are told.
struct Quota {
    requests: u32,
    window: Duration,
}

/// Genesys's own: 300 per minute.
const REAL_QUOTA: Quota = Quota {
    requests: 300,
    window: Duration::from_secs(60),
};

fn tenant_ids() -> Vec<String> {
    (0..TENANTS).map(|i| format!("org-{i:02}")).collect()
}

/// The client secret every replica's config names, written once per cluster: rewriting it
/// for each replica truncated it while another replica was starting, which then read it
/// empty and exited with a config error.
const SECRET_FILE: &str = "secret";

/// The config of replica `id`: every tenant on the simulator (Genesys only, a quick beat).
fn write_config(
    dir: &Path,
    prefix: &str,
    id: &str,
    (sim_url, quota): (&str, &Quota),
    tenants: &[String],
) -> PathBuf {
    let secret = dir.join(SECRET_FILE);
    let mut text = format!(
        "[broker]\nurl = \"{BROKER_URL}\"\nprefix = \"{prefix}\"\n[batch]\nlinger = \"20ms\"\n\
         [shutdown]\ndrain_timeout = \"10s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [replica]\nid = \"{id}\"\nheartbeat = \"200ms\"\n"
    );
    for t in tenants {
        text += &format!(
            "\n[[tenants]]\nid = \"{t}\"\n[tenants.genesys]\napi_base = \"{sim_url}\"\n\
             login_base = \"{sim_url}\"\nclient_id = \"{t}\"\nclient_secret_file = {:?}\n\
             datatable_id = \"{}\"\nrequests_per_minute = {}\nwindow = \"{}ms\"\n",
            secret.display().to_string(),
            fixtures::SIM_DATATABLE,
            quota.requests,
            quota.window.as_millis(),
        );
    }
    let path = dir.join(format!("{id}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

impl Cluster {
    /// Starts the replicas `ids` and waits until round 1 is delivered (they have settled).
    async fn started(&self, ids: &[&str]) -> BTreeMap<String, KillOnDrop> {
        let mut workers: BTreeMap<String, KillOnDrop> = ids
            .iter()
            .map(|id| (id.to_string(), self.spawn(id)))
            .collect();
        self.publish_round(1).await;
        self.delivered(1).await;
        for (id, worker) in &mut workers {
            let exited = worker.0.try_wait().unwrap();
            assert!(
                exited.is_none(),
                "{id} exited ({}) while the others delivered; the end of its log:\n{}",
                exited.map(|s| s.to_string()).unwrap_or_default(),
                self.log_tail(id)
            );
        }
        workers
    }

    /// Waits until every script of every tenant holds `version`.
    async fn delivered(&self, version: u64) {
        eventually(&format!("round {version} delivered"), || {
            let ok = self.all_hold(version);
            async move { ok }
        })
        .await;
    }

    async fn new() -> Self {
        Self::with(tenant_ids(), REAL_QUOTA, SCRIPTS).await
    }

    async fn with(tenants: Vec<String>, quota: Quota, scripts: u64) -> Self {
        let sim = fixtures::start(fixtures::genesys_quota(quota.requests, quota.window))
            .await
            .unwrap();
        let prefix = simulator::random_prefix("scale");
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).unwrap();
        let secret = format!("{}\n", fixtures::SIM_SECRET);
        std::fs::write(dir.join(SECRET_FILE), secret).unwrap();
        let c = Self {
            dir,
            names: Names::new(&prefix),
            sim,
            tenants,
            quota,
            scripts,
        };
        let (conn, publisher) = c.connect().await;
        c.topology().declare(publisher.channel()).await.unwrap();
        let _ = conn.close(200, "ok".into()).await;
        c
    }

    async fn connect(&self) -> (lapin::Connection, Publisher) {
        let settings = BrokerSettings {
            url: BROKER_URL.into(),
            prefix: self.names.exchange(),
            ..BrokerSettings::default()
        };
        let conn = broker::connect(&settings, "scale-out test").await.unwrap();
        let publisher = Publisher::open(&conn, Duration::from_secs(10))
            .await
            .unwrap();
        (conn, publisher)
    }

    fn topology(&self) -> Topology<'_> {
        Topology::new(
            &self.names,
            &BrokerSettings::default(),
            self.tenants.clone(),
        )
    }

    fn spawn(&self, id: &str) -> KillOnDrop {
        let config = write_config(
            &self.dir,
            &self.names.exchange(),
            id,
            (&self.sim.base_url(), &self.quota),
            &self.tenants,
        );
        let log = std::fs::File::create(self.dir.join(format!("{id}.log"))).unwrap();
        KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_scriptsync"))
                .args(["run", "--config"])
                .arg(config)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("worker starts"),
        )
    }

    /// The last lines replica `id` logged (for a failure's message).
    fn log_tail(&self, id: &str) -> String {
        let log = std::fs::read_to_string(self.dir.join(format!("{id}.log"))).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Publishes version `version` of every script of every tenant.
    async fn publish_round(&self, version: u64) {
        let (conn, publisher) = self.connect().await;
        for t in &self.tenants {
            for s in 0..self.scripts {
                let c = change(t, &format!("s{s}"), version);
                let body = serde_json::to_vec(&c).unwrap();
                let props =
                    lapin::BasicProperties::default().with_content_type("application/json".into());
                publisher
                    .publish(&self.names.exchange(), t, &body, props, false)
                    .await
                    .unwrap();
            }
        }
        let _ = conn.close(200, "ok".into()).await;
    }

    /// True once every tenant's Genesys table holds `version` of every script.
    fn all_hold(&self, version: u64) -> bool {
        let state = self.sim.state();
        self.tenants.iter().all(|t| {
            state.tenants.get(t).is_some_and(|ts| {
                (0..self.scripts).all(|s| {
                    ts.genesys
                        .held
                        .get(&format!("s{s}"))
                        .is_some_and(|h| h.version == version)
                })
            })
        })
    }

    /// Per tenant, the replicas that sent its requests, as runs in arrival order.
    fn runs(&self) -> BTreeMap<String, Vec<String>> {
        let state = self.sim.state();
        self.tenants
            .iter()
            .map(|t| {
                let runs = state
                    .tenants
                    .get(t)
                    .map(|ts| {
                        ts.genesys
                            .replicas
                            .iter()
                            .map(|r| r.replica.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                (t.clone(), runs)
            })
            .collect()
    }

    fn violations_and_older_writes(&self) -> (u64, u64) {
        let state = self.sim.state();
        state.tenants.values().fold((0, 0), |(v, o), ts| {
            (v + ts.genesys.violations, o + ts.genesys.older_writes)
        })
    }

    /// Requests the simulator refused for an exceeded quota window (429), over all tenants.
    fn over_quota(&self) -> u64 {
        let state = self.sim.state();
        state
            .tenants
            .values()
            .map(|ts| ts.genesys.answered(429))
            .sum()
    }

    /// Scripts of `tenant` whose table holds `version`.
    fn held(&self, tenant: &str, version: u64) -> usize {
        let state = self.sim.state();
        state.tenants.get(tenant).map_or(0, |ts| {
            ts.genesys
                .held
                .values()
                .filter(|h| h.version == version)
                .count()
        })
    }

    async fn finish(self) {
        let (conn, publisher) = self.connect().await;
        let _ = self.topology().delete(publisher.channel()).await;
        let _ = conn.close(200, "done".into()).await;
        self.sim.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_spread_over_replicas_and_a_killed_replica_hands_over() {
    let cluster = Cluster::new().await;
    let mut workers = cluster.started(&["r0", "r1", "r2"]).await;

    // Spread: each tenant ends on one replica, every replica serves 3–5 of the 12. A replica
    // that started later than the others' settle time (a loaded machine) takes its tenants
    // over during round 1: one handover, never back and forth.
    let runs = cluster.runs();
    let mut load: BTreeMap<String, usize> = BTreeMap::new();
    for (tenant, r) in &runs {
        let distinct: BTreeSet<&String> = r.iter().collect();
        assert!(
            !r.is_empty() && distinct.len() == r.len(),
            "{tenant}: one replica at a time, never back and forth: {r:?}"
        );
        *load.entry(r[r.len() - 1].clone()).or_default() += 1;
    }
    assert_eq!(load.len(), 3, "every replica owns tenants: {load:?}");
    assert!(load.values().all(|n| (3..=5).contains(n)), "{load:?}");

    // Kill the replica that owns the most; its tenants continue on the others.
    let (victim, _) = load.iter().max_by_key(|(_, n)| **n).unwrap();
    let victim = victim.clone();
    let killed = workers.remove(victim.as_str()).unwrap();
    signal(&killed.0, "KILL");
    let killed_at = std::time::Instant::now();
    drop(killed);
    cluster.publish_round(2).await;
    cluster.delivered(2).await;
    let failover = killed_at.elapsed();
    let after = cluster.runs();
    println!(
        "tenants per replica: {load:?}; killed {victim}; round 2 all delivered {failover:?} \
         after the kill; runs: {after:?}"
    );
    for (tenant, r) in &after {
        let last = r.last().unwrap();
        assert_ne!(last, &victim, "{tenant} still on the killed replica: {r:?}");
        // Since the kill: one handover at most (the victim's tenants), nothing else moved.
        let before = &runs[tenant];
        assert!(
            r.starts_with(before) && r.len() <= before.len() + 1,
            "{tenant}: {before:?} before the kill, {r:?} after"
        );
    }
    assert_eq!(cluster.violations_and_older_writes(), (0, 0));
    drop(workers);
    cluster.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_replica_takes_its_share_and_a_rolling_restart_loses_nothing() {
    let cluster = Cluster::new().await;
    let mut workers = cluster.started(&["r0", "r1", "r2"]).await;

    // A fourth replica joins: its share moves to it, each tenant once, never back.
    workers.insert("r3".into(), cluster.spawn("r3"));
    let joined = std::time::Instant::now();
    // Rounds of changes until the newcomer has served its share (bounded: 60 rounds).
    let mut version = 1;
    let on_r3 = |runs: &BTreeMap<String, Vec<String>>| {
        runs.values()
            .filter(|r| r.last().is_some_and(|l| l == "r3"))
            .count()
    };
    for _ in 0..60 {
        version += 1;
        cluster.publish_round(version).await;
        cluster.delivered(version).await;
        if on_r3(&cluster.runs()) >= 2 {
            break;
        }
    }
    assert!(
        (2..=6).contains(&on_r3(&cluster.runs())),
        "{:?}",
        cluster.runs()
    );
    let rebalance = joined.elapsed();
    for (tenant, r) in cluster.runs() {
        let distinct: BTreeSet<&String> = r.iter().collect();
        assert_eq!(
            distinct.len(),
            r.len(),
            "{tenant}: interleaved replicas {r:?}"
        );
    }
    println!("r3 served its share {rebalance:?} after it started");

    // Rolling restart: SIGTERM each replica in turn, start it again, publish a round.
    for id in ["r0", "r1", "r2", "r3"] {
        let mut old = workers.remove(id).unwrap();
        signal(&old.0, "TERM");
        let status = common::process::wait_exit(&mut old.0).await;
        assert!(
            status.success(),
            "{id} exits cleanly on SIGTERM: {status}; the end of its log:\n{}",
            cluster.log_tail(id)
        );
        workers.insert(id.to_string(), cluster.spawn(id));
        version += 1;
        cluster.publish_round(version).await;
        cluster.delivered(version).await;
    }
    assert_eq!(cluster.violations_and_older_writes(), (0, 0));
    drop(workers);
    cluster.finish().await;
}

/// The handover happens while the tenants use their whole quota: the new owner's gate starts
/// with an empty bucket, so the old and the new owner together never exceed a quota window
/// (the simulator answers 429 to a request over it) and never send into a pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handover_at_full_quota_exceeds_no_window() {
    let tenants: Vec<String> = (0..4).map(|i| format!("busy-{i}")).collect();
    let quota = Quota {
        requests: 20,
        window: Duration::from_secs(2),
    };
    let cluster = Cluster::with(tenants, quota, 50).await;
    let mut workers: BTreeMap<&str, KillOnDrop> = ["q0", "q1"]
        .iter()
        .map(|id| (*id, cluster.spawn(id)))
        .collect();
    // Not `started`: this round is the one in flight when a replica dies.
    cluster.publish_round(1).await;
    // Kill a replica once every tenant is under way (about a fifth delivered).
    eventually("every tenant under way", || {
        let ok = cluster.tenants.iter().all(|t| cluster.held(t, 1) >= 10);
        async move { ok }
    })
    .await;
    let runs = cluster.runs();
    let victim = runs
        .values()
        .filter_map(|r| r.last())
        .next()
        .unwrap()
        .clone();
    let killed = workers.remove(victim.as_str()).unwrap();
    signal(&killed.0, "KILL");
    drop(killed);
    cluster.delivered(1).await;
    let moved = cluster.runs().values().filter(|r| r.len() == 2).count();
    assert!(moved >= 1, "a tenant changed hands: {:?}", cluster.runs());
    assert_eq!(cluster.over_quota(), 0, "no quota window exceeded");
    assert_eq!(cluster.violations_and_older_writes(), (0, 0));
    drop(workers);
    cluster.finish().await;
}

/// A pause (a 429's `Retry-After`) on the old owner is honoured by the new one: the killed
/// replica's heartbeat carried it, and the replica that takes the tenant over waits it out
/// (the simulator counts a request sent inside the pause as a violation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_outlives_its_replica() {
    use futures::StreamExt;

    let tenants: Vec<String> = (0..4).map(|i| format!("calm-{i}")).collect();
    let cluster = Cluster::with(tenants, REAL_QUOTA, 2).await;
    let mut workers = cluster.started(&["p0", "p1"]).await;
    let runs = cluster.runs();
    let (tenant, owner) = runs
        .iter()
        .map(|(t, r)| (t.clone(), r[r.len() - 1].clone()))
        .next()
        .unwrap();

    // Listen to the replicas' heartbeats, as a replica would.
    let (conn, _publisher) = cluster.connect().await;
    let channel = conn.create_channel().await.unwrap();
    let mut beats = scriptsync::cluster::membership::listen(&channel, &cluster.names.replicas())
        .await
        .unwrap();

    // The owner's next request is answered 429 with a 6 s Retry-After: its gate pauses.
    let pause = scriptsync_sim::Faults {
        inject: vec![scriptsync_sim::InjectedResponse::new(429).with_retry_after("6")],
        ..Default::default()
    };
    cluster
        .sim
        .set_faults(Some(&tenant), scriptsync_sim::SimTarget::Genesys, pause);
    cluster.publish_round(2).await;
    // Wait for a beat of the owner that reports the pause, then kill the owner.
    let reported = tokio::time::timeout(common::DEADLINE, async {
        while let Some(Ok(beat)) = beats.next().await {
            let beat: serde_json::Value = serde_json::from_slice(&beat.data).unwrap_or_default();
            let from_owner = beat["replica"] == owner.as_str();
            let pauses = beat["pauses"].as_array().cloned().unwrap_or_default();
            if from_owner && pauses.iter().any(|p| p["tenant"] == tenant.as_str()) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(reported, Ok(true), "the owner's beat reports the pause");
    let killed = workers.remove(&owner).unwrap();
    signal(&killed.0, "KILL");
    drop(killed);
    cluster.delivered(2).await;
    let after = cluster.runs();
    assert_ne!(after[&tenant].last(), Some(&owner), "{after:?}");
    assert_eq!(cluster.violations_and_older_writes(), (0, 0), "{after:?}");
    let _ = conn.close(200, "done".into()).await;
    drop(workers);
    cluster.finish().await;
}
