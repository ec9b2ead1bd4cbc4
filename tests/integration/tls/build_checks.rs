//! What is checked before anything connects: CA files that are missing or not certificates
//! are config errors, and plaintext endpoints on other hosts are warned about at build.

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// One valid tenant, secrets filled, so `validate` reaches the CA files.
fn valid_settings() -> Settings {
    let mut s = scriptsync::config::simulator::sim_settings(
        BROKER_URL,
        "tls-config",
        "http://127.0.0.1:1",
        &["acme".into()],
    );
    s.broker.url = "amqps://localhost:5671/%2f".into();
    s
}

#[test]
fn ca_files_that_are_missing_or_not_certificates_are_config_errors() {
    let dir = std::env::temp_dir().join(format!("scriptsync-tls-cfg-{}", std::process::id()));
    let not_pem = write(&dir, "not-pem.pem", "hello\n");
    let key_only = write(
        &dir,
        "key.pem",
        &KeyPair::generate().unwrap().serialize_pem(),
    );
    let missing = dir.join("missing.pem");

    for key in ["broker.ca_file", "http.ca_file"] {
        for (path, says) in [
            (&missing, "cannot read"),
            (&not_pem, "no PEM certificate"),
            (&key_only, "no PEM certificate"),
        ] {
            let mut s = valid_settings();
            match key {
                "broker.ca_file" => s.broker.ca_file = Some(path.clone()),
                _ => s.http.ca_file = Some(path.clone()),
            }
            let err = s.validate().expect_err(key).to_string();
            assert!(err.contains(key), "{err}");
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }

    // A valid CA file passes, and lapin gets its PEM for amqps.
    let ca = TestCa::new("config");
    let mut s = valid_settings();
    s.broker.ca_file = Some(ca.ca_file.clone());
    s.http.ca_file = Some(ca.ca_file.clone());
    s.validate().unwrap();
    let tls = broker::tls_config(&s.broker).unwrap();
    assert_eq!(
        tls.cert_chain.as_deref(),
        Some(std::fs::read_to_string(&ca.ca_file).unwrap().as_str())
    );
    assert!(tls.identity.is_none());
    assert!(
        broker::tls_config(&valid_settings().broker)
            .unwrap()
            .cert_chain
            .is_none(),
        "no ca_file: system roots only"
    );
}

/// A `tracing` writer that keeps what was written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines `Application::build(settings)` writes.
fn build_logs(settings: Settings) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        Application::build(settings).expect("app builds");
    });
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn plaintext_to_other_hosts_is_warned_about_at_build() {
    let mut s = valid_settings();
    s.broker.url = "amqp://scriptsync@rabbit.internal:5672/%2f".into();
    let sn = s.tenants[0].servicenow.as_mut().unwrap();
    sn.instance_url = Url::parse("http://10.1.2.3:8080").unwrap();
    let logs = build_logs(s);
    let warnings: Vec<&str> = logs.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 2, "{logs}");
    assert!(warnings[0].contains("broker.url"), "{logs}");
    assert!(warnings[0].contains("rabbit.internal"), "{logs}");
    assert!(
        warnings[1].contains("tenants.acme.servicenow.instance_url"),
        "{logs}"
    );
    assert!(warnings.iter().all(|w| w.contains("plaintext")), "{logs}");

    // Loopback plaintext (the simulator, a local broker) and TLS anywhere: no warning.
    let mut s = valid_settings();
    s.broker.url = BROKER_URL.into();
    let logs = build_logs(s);
    assert!(!logs.contains("plaintext"), "{logs}");
}
