//! TLS end to end: a self-signed CA made at test time, a server
//! certificate for `localhost` / 127.0.0.1 signed by it, and a small TLS-terminating proxy
//! (tokio-rustls) in front of a plaintext service: the simulator for `https://`, the local
//! RabbitMQ for `amqps://` (it has no TLS listener of its own and is not reconfigured).
//!
//! With `http.ca_file` / `broker.ca_file` naming the CA the whole worker delivers through
//! the proxies; without it the same setup fails on the certificate, visibly. Plaintext
//! endpoints on other hosts are warned about when the application is built.

use crate::common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BROKER_URL, DEADLINE, TestApp, change, eventually, spawn_app};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use scriptsync::app::Application;
use scriptsync::broker;
use scriptsync::config::Settings;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_util::sync::CancellationToken;
use url::Url;

/// A CA made for one test, the server certificate it signed, and the CA's PEM file.
struct TestCa {
    ca_file: PathBuf,
    acceptor: TlsAcceptor,
}

impl TestCa {
    fn new(test: &str) -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("scriptsync test CA {test}"));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let server = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();

        let dir = std::env::temp_dir().join(format!(
            "scriptsync-tls-{test}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();

        let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Self {
            ca_file,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }
}

/// A TLS-terminating proxy on a loopback port: each accepted TLS connection is copied byte
/// for byte to `upstream`. Counts handshakes that completed and that failed; stops on drop.
struct TlsProxy {
    addr: SocketAddr,
    handshakes: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    stop: CancellationToken,
}

impl TlsProxy {
    /// Binds synchronously (so it can start inside a `spawn_app` tweak) and serves on the
    /// current tokio runtime.
    fn start(acceptor: TlsAcceptor, upstream: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let stop = CancellationToken::new();
        let (ok, bad, token) = (handshakes.clone(), refused.clone(), stop.clone());
        tokio::spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = tokio::select! {
                    _ = token.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(a) => a,
                        Err(_) => continue,
                    },
                };
                let (acceptor, ok, bad, token) =
                    (acceptor.clone(), ok.clone(), bad.clone(), token.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        bad.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    ok.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = token.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut tls, &mut plain) => {}
                    }
                });
            }
        });
        Self {
            addr,
            handshakes,
            refused,
            stop,
        }
    }

    fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::SeqCst)
    }

    fn refused(&self) -> u64 {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// `url` with scheme `https` and the proxy's host and port (path kept).
fn via_proxy(url: &Url, proxy: SocketAddr) -> Url {
    let mut out = url.clone();
    out.set_scheme("https").unwrap();
    out.set_host(Some("localhost")).unwrap();
    out.set_port(Some(proxy.port())).unwrap();
    out
}

/// Points every tenant's Genesys and ServiceNow URLs at an HTTPS proxy in front of the
/// simulator (whose address the settings already hold); returns the proxy.
fn https_to_simulator(settings: &mut Settings, ca: &TestCa) -> TlsProxy {
    let sim = settings.tenants[0].genesys.as_ref().unwrap().api_base();
    let upstream: SocketAddr = sim.socket_addrs(|| None).unwrap()[0];
    let proxy = TlsProxy::start(ca.acceptor.clone(), upstream);
    for t in &mut settings.tenants {
        if let Some(g) = &mut t.genesys {
            g.api_base = Some(via_proxy(&g.api_base(), proxy.addr));
            g.login_base = Some(via_proxy(&g.login_base(), proxy.addr));
        }
        if let Some(s) = &mut t.servicenow {
            s.instance_url = via_proxy(&s.instance_url, proxy.addr);
        }
    }
    proxy
}

/// Waits until `script` of `tenant` holds `version` at both targets of the simulator.
async fn wait_delivered(app: &TestApp, tenant: &str, script: &str, version: u64) {
    eventually(
        &format!("{tenant}/{script} v{version} at both targets"),
        || async {
            let t = app.sim_state().tenant(tenant);
            [&t.genesys, &t.servicenow]
                .iter()
                .all(|target| target.held.get(script).map(|r| r.version) == Some(version))
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_with_the_ca_file_receive_changes() {
    let ca = TestCa::new("https-ok");
    let mut proxy = None;
    let app = spawn_app(&["tls-ok"], |s| {
        proxy = Some(https_to_simulator(s, &ca));
        s.http.ca_file = Some(ca.ca_file.clone());
    })
    .await;
    let proxy = proxy.unwrap();

    app.publish(&change("tls-ok", "s1", 1)).await;
    app.publish(&change("tls-ok", "s2", 3)).await;
    wait_delivered(&app, "tls-ok", "s1", 1).await;
    wait_delivered(&app, "tls-ok", "s2", 3).await;

    let state = app.sim_state().tenant("tls-ok");
    assert!(
        state.genesys.token_requests >= 1,
        "the token came over https too"
    );
    assert!(state.servicenow.token_requests >= 1);
    assert!(
        proxy.handshakes() >= 1,
        "requests went through the TLS proxy"
    );
    assert_eq!(proxy.refused(), 0, "every handshake verified");
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_without_the_ca_file_fails_on_the_certificate() {
    let ca = TestCa::new("https-no-ca");
    let mut proxy = None;
    let app = spawn_app(&["tls-no-ca"], |s| {
        proxy = Some(https_to_simulator(s, &ca));
        s.retry.initial = Duration::from_millis(50);
        s.retry.max_elapsed = Duration::from_secs(2);
    })
    .await;
    let proxy = proxy.unwrap();

    let mut c = change("tls-no-ca", "s1", 1);
    c = c
        .to_builder()
        .targets([scriptsync::change::TargetKind::Genesys])
        .build()
        .unwrap();
    app.publish(&c).await;
    app.wait_dlq(1).await;
    let dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 1, "exactly one dead letter");
    let dead = &dead[0];
    let reason = dead.header("x-scriptsync-reason");
    let error = dead.header("x-scriptsync-error").unwrap_or_default();
    println!("reason {reason:?}, error {error:?}");
    assert_eq!(reason.as_deref(), Some("exhausted"), "{error}");
    assert!(
        error.contains("certificate not trusted"),
        "the dead letter says why: {error}"
    );

    let state = app.sim_state().tenant("tls-no-ca");
    assert_eq!(
        state.genesys.total_requests(),
        0,
        "nothing reached the target"
    );
    assert_eq!(
        state.genesys.token_requests, 0,
        "no token was requested in clear"
    );
    assert!(proxy.refused() >= 1, "the client aborted the handshake");
    assert_eq!(proxy.handshakes(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_with_the_ca_file_consumes_and_delivers() {
    let ca = TestCa::new("amqps-ok");
    let rabbit: SocketAddr = "127.0.0.1:5672".parse().unwrap();
    let proxy = TlsProxy::start(ca.acceptor.clone(), rabbit);
    let amqps = format!("amqps://localhost:{}/%2f", proxy.addr.port());
    let app = spawn_app(&["amqps-ok"], |s| {
        s.broker.url = amqps.clone();
        s.broker.ca_file = Some(ca.ca_file.clone());
    })
    .await;

    // The worker's only broker URL is the amqps:// one: a delivery proves it consumed (and
    // acked) over TLS.
    app.publish(&change("amqps-ok", "s1", 2)).await;
    wait_delivered(&app, "amqps-ok", "s1", 2).await;
    app.wait_settled("amqps-ok", 1).await;
    assert!(
        proxy.handshakes() >= 2,
        "the test's connection and the worker's both went through TLS"
    );
    assert_eq!(proxy.refused(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_without_the_ca_file_is_refused_on_the_certificate() {
    let ca = TestCa::new("amqps-no-ca");
    let proxy = TlsProxy::start(ca.acceptor.clone(), "127.0.0.1:5672".parse().unwrap());
    let mut settings = Settings::default();
    settings.broker.url = format!("amqps://localhost:{}/%2f", proxy.addr.port());

    let attempt = tokio::time::timeout(DEADLINE, broker::connect(&settings.broker, "tls test"))
        .await
        .expect("the connection attempt ends");
    let Err(err) = attempt else {
        panic!("an untrusted broker certificate must be refused");
    };
    let err = format!("{err:#}");
    println!("{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert_eq!(proxy.handshakes(), 0);
}

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
