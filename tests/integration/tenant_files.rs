//! Tenants from a directory while the worker runs, against the real broker and the
//! simulator: a file added, a secret rotated while changes flow, settings changed, broken files,
//! a file removed and added back, on one replica and on two. Each case: nothing lost, never
//! older over newer, no token request with the old secret once the rotation settled, and the
//! tenant of the main file (`steady`) delivering throughout on the parts it started with.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::tenant_dir::TenantDir;
use common::{TestApp, change, eventually, spawn_app_with_sim};
use scriptsync::app::Application;
use scriptsync_sim::{SimConfig, SimTarget};
use tokio_util::sync::CancellationToken;

/// The version of `script` `tenant`'s target holds now.
fn held(app: &TestApp, tenant: &str, target: SimTarget, script: &str) -> Option<u64> {
    let state = app.sim_state();
    state
        .tenant(tenant)
        .target(target)
        .held
        .get(script)
        .map(|r| r.version)
}

/// Waits until both targets hold `version` of `script`.
async fn delivered(app: &TestApp, tenant: &str, script: &str, version: u64) {
    eventually(
        &format!("{tenant}/{script} v{version} at both targets"),
        || async {
            [SimTarget::Genesys, SimTarget::Servicenow]
                .iter()
                .all(|t| held(app, tenant, *t, script) == Some(version))
        },
    )
    .await;
}

/// When each (tenant, script, version) was published (tokio's clock, which the simulator's
/// apply times share: one process).
type Published = Mutex<HashMap<(String, String, u64), tokio::time::Instant>>;

/// Publishes `versions` of `scripts` of `tenant` in order, `gap` apart, noting the times.
async fn publish_flow(
    (app, published): (&TestApp, &Published),
    tenant: &str,
    scripts: &[&str],
    versions: std::ops::RangeInclusive<u64>,
    gap: Duration,
) {
    for v in versions {
        for s in scripts {
            let now = tokio::time::Instant::now();
            published
                .lock()
                .unwrap()
                .insert((tenant.to_owned(), (*s).to_owned(), v), now);
            app.publish(&change(tenant, s, v)).await;
        }
        tokio::time::sleep(gap).await;
    }
}

/// p50 / p99 time to target of `tenant`'s changes published from `versions`, from their
/// publish to their first apply at either target (superseded versions have none). Printed
/// for the record; no test asserts a time.
fn time_to_target(
    applied: &[scriptsync_sim::Applied],
    published: &Published,
    tenant: &str,
    versions: std::ops::RangeInclusive<u64>,
) -> String {
    let published = published.lock().unwrap();
    let mut first: HashMap<(SimTarget, &str, u64), tokio::time::Instant> = HashMap::new();
    for a in applied
        .iter()
        .filter(|a| a.tenant == tenant && versions.contains(&a.version))
    {
        first
            .entry((a.target, a.script_id.as_str(), a.version))
            .or_insert(a.at);
    }
    let mut secs: Vec<f64> = first
        .iter()
        .filter_map(|((_, script, v), at)| {
            let sent = published.get(&(tenant.to_owned(), (*script).to_owned(), *v))?;
            Some(at.saturating_duration_since(*sent).as_secs_f64())
        })
        .collect();
    secs.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        secs.get(((secs.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    format!(
        "{} writes, p50 {:.3} s, p99 {:.3} s",
        secs.len(),
        pick(0.5),
        pick(0.99)
    )
}

async fn status(app: &TestApp) -> serde_json::Value {
    let url = format!("http://{}/status", app.admin.expect("admin bound"));
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

fn genesys_ceiling(status: &serde_json::Value, tenant: &str) -> Option<f64> {
    let t = status["tenants"]
        .as_array()?
        .iter()
        .find(|t| t["tenant"] == tenant)?;
    let g = t["targets"]
        .as_array()?
        .iter()
        .find(|x| x["target"] == "genesys")?;
    g["ceiling_per_minute"].as_f64()
}

/// No older version over a newer one, nothing in the DLQ, no violations.
async fn clean_history(app: &TestApp) {
    let state = app.sim_state();
    assert_eq!(
        state.total_violations(),
        0,
        "requests into a pause or over the quota"
    );
    for (tenant, t) in &state.tenants {
        for target in [&t.genesys, &t.servicenow] {
            assert_eq!(
                target.older_writes, 0,
                "{tenant}: an older version over a newer one"
            );
        }
    }
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
}

async fn start(dir_setup: impl FnOnce(&TenantDir)) -> (TestApp, TenantDir) {
    let mut dir = None;
    let app = spawn_app_with_sim(&["steady"], SimConfig::default(), |s| {
        let d = TenantDir::for_settings(s);
        dir_setup(&d);
        // The fallback re-scan; change notices make it quicker.
        s.tenants_rescan = Duration::from_secs(2);
        s.admin.listen = "127.0.0.1:0".parse().unwrap();
        dir = Some(d);
    })
    .await;
    (app, dir.expect("the directory was written"))
}

#[tokio::test]
async fn tenant_files_are_added_rotated_changed_refused_and_removed_while_the_worker_runs() {
    let (app, dir) = start(|d| {
        d.secret("acme", "old-secret");
        d.tenant("acme", "");
    })
    .await;
    let published = Published::default();
    let at = (&app, &published);
    let steady_parts = app
        .tenant_set
        .get("steady")
        .expect("the main file's tenant");
    let mut applied_rx = app.sim.watch_applied();
    app.publish(&change("acme", "s1", 1)).await;
    delivered(&app, "acme", "s1", 1).await;
    // The main file's tenant alone, for comparison.
    publish_flow(at, "steady", &["t1"], 1..=20, Duration::from_millis(30)).await;
    delivered(&app, "steady", "t1", 20).await;

    // Added: the queue is declared and consumed within seconds, then the first change flows.
    let written = tokio::time::Instant::now();
    dir.secret("globex", "globex-secret");
    dir.tenant("globex", "");
    let queue = app.names.tenant_queue("globex");
    eventually("globex consumed", || async {
        app.consumers(&queue).await == Some(1)
    })
    .await;
    app.publish(&change("globex", "g1", 1)).await;
    delivered(&app, "globex", "g1", 1).await;
    println!(
        "a tenant file added: first change delivered {:.2} s after the file appeared",
        written.elapsed().as_secs_f64()
    );

    // Rotated while acme's and steady's changes flow: the service takes the new secret only,
    // the file follows; the old secret is never presented again once tokens were fetched
    // with the new one. A rotation alone does not restart the tenant.
    let acme_parts = app.tenant_set.get("acme").unwrap();
    let flow = async {
        tokio::join!(
            publish_flow(
                at,
                "acme",
                &["s1", "s2", "s3"],
                2..=40,
                Duration::from_millis(30)
            ),
            publish_flow(at, "steady", &["t1"], 21..=60, Duration::from_millis(30)),
        )
    };
    let rotate = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        app.sim.rotate_secret("acme", "new-secret");
        dir.secret("acme", "new-secret");
        eventually(
            "tokens fetched with the new secret at both targets",
            || async { app.sim.presented("acme", "new-secret") >= 2 },
        )
        .await;
        app.sim.presented("acme", "old-secret")
    };
    let (_, old_at_settle) = tokio::join!(flow, rotate);
    for s in ["s1", "s2", "s3"] {
        delivered(&app, "acme", s, 40).await;
    }
    delivered(&app, "steady", "t1", 60).await;
    assert_eq!(
        app.sim.presented("acme", "old-secret"),
        old_at_settle,
        "no token request with the old secret after the rotation settled"
    );
    assert!(
        Arc::ptr_eq(&acme_parts, &app.tenant_set.get("acme").unwrap()),
        "rotated in place"
    );

    // Changed settings (the quota), while changes flow: acme drains and starts again on
    // them; its gate runs at the new quota × headroom.
    let flow = async {
        tokio::join!(
            publish_flow(
                at,
                "acme",
                &["s1", "s2"],
                41..=60,
                Duration::from_millis(30)
            ),
            publish_flow(at, "steady", &["t1"], 61..=80, Duration::from_millis(30)),
        )
    };
    let change_quota = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        dir.tenant("acme", "requests_per_minute = 200");
    };
    tokio::join!(flow, change_quota);
    delivered(&app, "acme", "s1", 60).await;
    delivered(&app, "acme", "s2", 60).await;
    delivered(&app, "steady", "t1", 80).await;
    assert!(
        !Arc::ptr_eq(&acme_parts, &app.tenant_set.get("acme").unwrap()),
        "new parts"
    );
    eventually("acme's gate runs at the new quota × headroom", || async {
        genesys_ceiling(&status(&app).await, "acme").is_some_and(|c| (c - 180.0).abs() < 1.0)
    })
    .await;

    // Broken files: an unknown key in a new tenant, acme's file cut in half. Both are refused
    // with their paths; acme keeps its last good settings; everyone keeps delivering.
    dir.write("bad.toml", "id = \"bad\"\nsurprise = true\n");
    dir.write("acme.toml", "id = \"acme\"\n[genesys\n");
    eventually("two tenant files refused in /status", || async {
        status(&app).await["tenant_config_errors"]
            .as_array()
            .is_some_and(|e| e.len() == 2)
    })
    .await;
    let text = status(&app).await["tenant_config_errors"].to_string();
    assert!(
        text.contains("bad.toml") && text.contains("surprise"),
        "{text}"
    );
    assert!(
        text.contains("acme.toml") && !text.contains("new-secret"),
        "{text}"
    );
    let metrics_url = format!("http://{}/metrics", app.admin.unwrap());
    let metrics = reqwest::get(metrics_url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("scriptsync_tenant_config_errors 2"),
        "the gauge says so"
    );
    assert!(
        app.tenant_set.get("bad").is_none(),
        "never had good settings: absent"
    );
    app.publish(&change("acme", "s1", 61)).await;
    app.publish(&change("steady", "t1", 81)).await;
    app.publish(&change("globex", "g1", 2)).await;
    delivered(&app, "acme", "s1", 61).await;
    delivered(&app, "steady", "t1", 81).await;
    delivered(&app, "globex", "g1", 2).await;
    dir.tenant("acme", "requests_per_minute = 200");
    dir.remove("bad.toml");
    eventually("the problems are gone", || async {
        status(&app).await["tenant_config_errors"]
            .as_array()
            .is_some_and(Vec::is_empty)
    })
    .await;

    // Removed: consumption stops, the queue stays and keeps what arrives; back again, it
    // is all delivered.
    dir.remove("globex.toml");
    eventually("globex no longer consumed", || async {
        app.consumers(&queue).await == Some(0)
    })
    .await;
    assert!(app.tenant_set.get("globex").is_none());
    app.publish(&change("globex", "g1", 3)).await;
    app.publish(&change("globex", "g2", 1)).await;
    app.wait_depth(&queue, 2).await;
    assert_eq!(
        held(&app, "globex", SimTarget::Genesys, "g1"),
        Some(2),
        "nothing taken while removed"
    );
    dir.tenant("globex", "");
    delivered(&app, "globex", "g1", 3).await;
    delivered(&app, "globex", "g2", 1).await;

    clean_history(&app).await;
    assert!(
        Arc::ptr_eq(&steady_parts, &app.tenant_set.get("steady").unwrap()),
        "steady never restarted"
    );
    let mut applied = Vec::new();
    while let Ok(a) = applied_rx.try_recv() {
        applied.push(a);
    }
    println!(
        "steady alone:           {}",
        time_to_target(&applied, &published, "steady", 1..=20)
    );
    println!(
        "steady during rotation: {}",
        time_to_target(&applied, &published, "steady", 21..=60)
    );
    println!(
        "steady during a change: {}",
        time_to_target(&applied, &published, "steady", 61..=80)
    );
    app.stop().await;
}

/// A second replica of `app`'s worker (same prefix, simulator and tenants directory).
async fn second_replica(
    app: &TestApp,
    id: &str,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<anyhow::Result<()>>,
    Arc<scriptsync::tenants::TenantSet>,
) {
    let mut settings = app.settings.clone();
    settings.replica.id = Some(id.to_owned());
    settings.admin.listen = "127.0.0.1:0".parse().unwrap();
    let worker = Application::build(settings).expect("second replica builds");
    let set = worker.tenant_set();
    let stop = CancellationToken::new();
    let task = tokio::spawn(worker.run_until(stop.clone()));
    (stop, task, set)
}

#[tokio::test]
async fn on_two_replicas_a_tenant_added_rotated_and_removed_is_followed_by_both() {
    let (app, dir) = start(|d| {
        for id in ["t1", "t2", "t3"] {
            d.secret(id, "old");
            d.tenant(id, "");
        }
    })
    .await;
    let (stop2, task2, set2) = second_replica(&app, "replica-two").await;
    let queues = |id: &str| app.names.tenant_queue(id);
    // Every tenant consumed by exactly one replica.
    for id in ["steady", "t1", "t2", "t3"] {
        let q = queues(id);
        eventually(&format!("{id} consumed once"), || async {
            app.consumers(&q).await == Some(1)
        })
        .await;
    }

    let written = tokio::time::Instant::now();
    dir.secret("t4", "old");
    dir.tenant("t4", "");
    let q4 = queues("t4");
    eventually("t4 known by both replicas", || async {
        set2.get("t4").is_some() && app.tenant_set.get("t4").is_some()
    })
    .await;
    eventually("t4 consumed by one replica", || async {
        app.consumers(&q4).await == Some(1)
    })
    .await;
    app.publish(&change("t4", "first", 1)).await;
    delivered(&app, "t4", "first", 1).await;
    println!(
        "two replicas: a tenant file added was consumed by one of them and its first change \
         delivered {:.2} s after the file appeared",
        written.elapsed().as_secs_f64()
    );

    let published = Published::default();
    let at = (&app, &published);
    let flow = publish_flow(at, "t1", &["a", "b"], 1..=30, Duration::from_millis(30));
    let flow4 = publish_flow(at, "t4", &["a"], 1..=30, Duration::from_millis(30));
    let rotate = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.sim.rotate_secret("t1", "new");
        dir.secret("t1", "new");
        eventually("t1's tokens fetched with the new secret", || async {
            app.sim.presented("t1", "new") >= 2
        })
        .await;
        app.sim.presented("t1", "old")
    };
    let ((), (), old_at_settle) = tokio::join!(flow, flow4, rotate);
    delivered(&app, "t1", "a", 30).await;
    delivered(&app, "t1", "b", 30).await;
    delivered(&app, "t4", "a", 30).await;
    assert_eq!(
        app.sim.presented("t1", "old"),
        old_at_settle,
        "the old secret unused after the rotation"
    );

    dir.remove("t2.toml");
    let q2 = queues("t2");
    eventually("t2 released by both replicas", || async {
        set2.get("t2").is_none() && app.consumers(&q2).await == Some(0)
    })
    .await;
    app.publish(&change("t2", "a", 1)).await;
    app.wait_depth(&q2, 1).await;

    clean_history(&app).await;
    stop2.cancel();
    let _ = task2.await;
    app.delete_queue(&q2).await;
    app.stop().await;
}

#[tokio::test]
async fn tenants_list_and_check_show_what_a_directory_gives_without_starting_anything() {
    let dir = TenantDir::new("http://127.0.0.1:9");
    dir.secret("acme", "s3cret-value");
    dir.tenant("acme", "");
    dir.write(
        "broken.toml",
        "id = \"broken\"\n[genesys]\nregion = \"mypurecloud.com\"\n",
    );
    let config = dir
        .path
        .join("..")
        .join(format!("{}.config.toml", uuid::Uuid::new_v4().simple()));
    let tenants_dir = dir.path.display().to_string();
    std::fs::write(
        &config,
        format!("tenants_dir = \"{tenants_dir}\"\n[broker]\nurl = \"amqp://127.0.0.1:1/%2f\"\n"),
    )
    .unwrap();
    let config = config.display().to_string();

    let (code, out, err) = common::run_cli(&["tenants", "--config", &config, "list"]).await;
    assert_eq!(code, 0, "list always exits 0: {err}");
    assert!(out.starts_with("1 tenant(s), 1 problem(s)"), "{out}");
    assert!(out.contains("✔ acme") && out.contains("acme.toml"), "{out}");
    assert!(
        out.contains("✘") && out.contains("broken.toml") && out.contains("client_id"),
        "{out}"
    );
    assert!(!out.contains("s3cret-value"), "never a secret");

    let (code, out, _) =
        common::run_cli(&["tenants", "--config", &config, "check", "--json"]).await;
    assert_eq!(code, 1, "check fails on a broken file");
    let listing: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(listing["tenants"][0]["id"], "acme");
    assert_eq!(
        listing["tenants"][0]["targets"],
        serde_json::json!(["genesys", "servicenow"])
    );
    assert_eq!(listing["problems"][0]["tenant"], "broken");

    dir.remove("broken.toml");
    let (code, out, _) = common::run_cli(&["tenants", "--config", &config, "check"]).await;
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_file(&config);
}

/// A worker process, its tenants directory, and a tenant whose secret file lives outside it
/// (so no change notice covers it) with a re-scan far off: only `SIGHUP` can apply a rotation.
#[tokio::test]
async fn sighup_reads_the_tenants_again_and_the_worker_keeps_running() {
    use common::process::{Harness, Options, readyz, signal};
    let h = Harness::new("main", SimConfig::default(), Options::default()).await;
    let tenants = h.dir.join("tenants");
    std::fs::create_dir_all(&tenants).unwrap();
    let outside = h.dir.join("rot.secret");
    std::fs::write(&outside, "first\n").unwrap();
    let base = h.sim.base_url();
    std::fs::write(
        tenants.join("rot.toml"),
        format!(
            "id = \"rot\"\n[genesys]\napi_base = \"{base}\"\nlogin_base = \"{base}\"\n\
             client_id = \"rot\"\nclient_secret_file = \"{}\"\ndatatable_id = \"t\"\n",
            outside.display()
        ),
    )
    .unwrap();
    let config = std::fs::read_to_string(&h.config).unwrap();
    let top = format!(
        "tenants_dir = \"{}\"\ntenants_rescan = \"1h\"\n",
        tenants.display()
    );
    std::fs::write(&h.config, format!("{top}{config}")).unwrap();
    let mut worker = h.spawn_worker();

    let publish = |version: u64| {
        let h = &h;
        async move {
            let (conn, publisher) = h.connect().await;
            let body = serde_json::to_vec(&change("rot", "s", version)).unwrap();
            let props =
                lapin::BasicProperties::default().with_content_type("application/json".into());
            publisher
                .publish(&h.names.exchange(), "rot", &body, props, false)
                .await
                .unwrap();
            let _ = conn.close(200, "ok".into()).await;
        }
    };
    let held = || {
        h.sim
            .state()
            .tenant("rot")
            .genesys
            .held
            .get("s")
            .map(|r| r.version)
    };
    let admin = h.admin_addr().await;
    eventually("the worker is ready", || async {
        readyz(&admin).await == Some(200)
    })
    .await;
    publish(1).await;
    eventually("rot v1 delivered", || async { held() == Some(1) }).await;
    assert_eq!(h.sim.presented("rot", "first"), 1);

    h.sim.rotate_secret("rot", "second");
    std::fs::write(&outside, "second\n").unwrap();
    signal(&worker.0, "HUP");
    // The rotation is applied before v2 is sent: a change published at once could still go
    // out with the old token, which stays valid until it expires.
    eventually("the SIGHUP's reading rotates rot's credentials", || async {
        let log = std::fs::read_to_string(&h.log).unwrap_or_default();
        log.lines()
            .any(|l| l.contains(r#""trigger":"SIGHUP""#) && l.contains(r#""rotated":"[\"rot\"]""#))
    })
    .await;
    publish(2).await;
    eventually(
        "rot v2 delivered with a token fetched by the new secret",
        || async { held() == Some(2) && h.sim.presented("rot", "second") >= 1 },
    )
    .await;
    assert!(
        worker.0.try_wait().unwrap().is_none(),
        "SIGHUP does not stop the worker"
    );
    assert!(
        std::fs::read_to_string(&h.log).unwrap().contains("SIGHUP"),
        "the log names the trigger"
    );
    let rot_queue = h.names.tenant_queue("rot");
    h.stop_and_clean(worker).await;
    let sweep = scriptsync::broker::connect(
        &scriptsync::config::simulator::sim_settings(
            common::BROKER_URL,
            "x",
            "http://127.0.0.1:9",
            &[],
        )
        .broker,
        "test sweep",
    )
    .await
    .unwrap();
    let ch = sweep.create_channel().await.unwrap();
    let _ = ch
        .queue_delete(rot_queue.as_str().into(), Default::default())
        .await;
    let _ = sweep.close(200, "ok".into()).await;
}
