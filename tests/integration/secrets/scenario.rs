//! One whole run with known secret values (both targets, a refused secret, the broker
//! password): every output channel searched for each of them.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_any_output_channel() {
    let sim = fixtures::start(fixtures::accepting([
        ("leaky", GENESYS_SECRET),
        ("sn-client", SN_SECRET),
        ("sn-user", SN_PASSWORD),
        ("wrong", "the-right-one"),
    ]))
    .await
    .unwrap();
    sim.set_faults(
        Some("sn-client"),
        SimTarget::Servicenow,
        Faults {
            record_errors: BTreeSet::from(["fails".to_string()]),
            ..Faults::default()
        },
    );
    let base = sim.base_url();
    let prefix = simulator::random_prefix("secrets");
    let user = prefix.clone();
    rabbitmqctl(&["add_user", &user, BROKER_PASSWORD]);
    rabbitmqctl(&["set_permissions", "-p", "/", &user, ".*", ".*", ".*"]);

    let dir = std::env::temp_dir().join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, value) in [
        ("g", GENESYS_SECRET),
        ("sc", SN_SECRET),
        ("sp", SN_PASSWORD),
        ("w", WRONG_SECRET),
        ("b", BROKER_PASSWORD),
    ] {
        std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
    }
    let d = dir.display();
    let config = format!(
        r#"[broker]
url = "amqp://{user}@127.0.0.1:5672/%2f"
password_file = "{d}/b"
prefix = "{prefix}"
[batch]
linger = "50ms"
[retry]
max_elapsed = "3s"
max_attempts = 3
[admin]
listen = "127.0.0.1:0"
[replica]
heartbeat = "100ms"
[[tenants]]
id = "leaky"
[tenants.genesys]
api_base = "{base}"
login_base = "{base}"
client_id = "leaky"
client_secret_file = "{d}/g"
datatable_id = "t"
[tenants.servicenow]
instance_url = "{base}"
auth = "oauth_password"
client_id = "sn-client"
client_secret_file = "{d}/sc"
username = "sn-user"
password_file = "{d}/sp"
staging_table = "u_scriptsync_import"
[[tenants]]
id = "wrong"
[tenants.genesys]
api_base = "{base}"
login_base = "{base}"
client_id = "wrong"
client_secret_file = "{d}/w"
datatable_id = "t"
"#
    );
    let config_path = dir.join("scriptsync.toml");
    std::fs::write(&config_path, config).unwrap();

    let check = Command::new(env!("CARGO_BIN_EXE_scriptsync"))
        .args(["check-config", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let mut outputs = vec![
        ("check-config stdout", check.stdout),
        ("check-config stderr", check.stderr),
    ];

    let names = Names::new(&prefix);
    let broker_settings = BrokerSettings {
        url: BROKER_URL.into(),
        prefix: prefix.clone(),
        ..BrokerSettings::default()
    };
    let conn = broker::connect(&broker_settings, "secrets test")
        .await
        .unwrap();
    let publisher = Publisher::open(&conn, Duration::from_secs(10))
        .await
        .unwrap();
    let tenants = ["leaky".to_string(), "wrong".to_string()];
    let topology = Topology::new(&names, &BrokerSettings::default(), tenants);
    topology.declare(publisher.channel()).await.unwrap();

    // Logs go to files: a pipe nobody reads would fill up and stall the worker.
    let log_path = dir.join("worker.log");
    let out_path = dir.join("worker.out");
    let mut worker = common::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_scriptsync"))
            .args(["run", "--config"])
            .arg(&config_path)
            .env("RUST_LOG", "trace")
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let publish = |tenant: &str, script: &str, version: u64| {
        let body = serde_json::to_vec(&change(tenant, script, version)).unwrap();
        let (publisher, exchange, tenant) =
            (publisher.clone(), names.exchange(), tenant.to_string());
        async move {
            let props = BasicProperties::default().with_content_type("application/json".into());
            publisher
                .publish(&exchange, &tenant, &body, props, false)
                .await
                .unwrap();
        }
    };
    for s in ["a", "b", "fails"] {
        publish("leaky", s, 1).await;
    }
    publish("wrong", "x", 1).await;
    publisher
        .publish(
            &names.exchange(),
            "leaky",
            b"{not json",
            BasicProperties::default(),
            false,
        )
        .await
        .unwrap();
    eventually("leaky's good changes delivered", || async {
        let s = sim.state();
        ["a", "b"]
            .iter()
            .all(|k| s.tenant("leaky").servicenow.held.contains_key(*k))
    })
    .await;
    sim.expire_tokens(None);
    publish("leaky", "a", 2).await;
    eventually("renewed tokens used", || async {
        sim.state()
            .tenant("leaky")
            .genesys
            .held
            .get("a")
            .is_some_and(|h| h.version == 2)
    })
    .await;

    let dlq_text = dead_letters_as_text(&conn, &names, 3).await;
    println!("DLQ headers seen:\n{dlq_text}");
    outputs.push(("DLQ", dlq_text.into_bytes()));

    // The admin endpoints answer with no secret either.
    let log_text = std::fs::read_to_string(&log_path).unwrap();
    let marker = "\"admin\":\"";
    let start = log_text
        .find(marker)
        .expect("the worker logs its admin address")
        + marker.len();
    let admin = &log_text[start..start + log_text[start..].find('"').unwrap()];
    for path in ["/status", "/metrics", "/healthz", "/readyz"] {
        let body = reqwest::get(format!("http://{admin}{path}"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        outputs.push((path, body.into_bytes()));
    }
    assert!(
        String::from_utf8_lossy(&outputs.iter().find(|(c, _)| *c == "/status").unwrap().1)
            .contains("leaky")
    );

    let _ = Command::new("kill")
        .args(["-TERM", &worker.0.id().to_string()])
        .status();
    let status = worker.0.wait().unwrap();
    assert!(status.success(), "worker exits 0 after SIGTERM");
    let logs = std::fs::read(&log_path).unwrap();
    assert!(
        logs.len() > 10_000,
        "trace logs were captured ({} bytes)",
        logs.len()
    );
    outputs.push(("worker stdout", std::fs::read(&out_path).unwrap()));
    outputs.push(("worker stderr (trace)", logs));

    for (channel, bytes) in &outputs {
        let text = String::from_utf8_lossy(bytes);
        for secret in [
            GENESYS_SECRET,
            SN_SECRET,
            SN_PASSWORD,
            WRONG_SECRET,
            BROKER_PASSWORD,
            TOKEN_PREFIX,
        ] {
            assert!(!text.contains(secret), "{secret:?} leaked into {channel}");
        }
    }

    let _ = topology.delete(publisher.channel()).await;
    let _ = conn.close(200, "done".into()).await;
    rabbitmqctl(&["delete_user", &user]);
    sim.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
