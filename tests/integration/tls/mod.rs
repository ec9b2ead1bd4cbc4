//! TLS end to end: a self-signed CA made at test time, a server
//! certificate for `localhost` / 127.0.0.1 signed by it, and a small TLS-terminating proxy
//! (tokio-rustls) in front of a plaintext service: the simulator for `https://`, the local
//! RabbitMQ for `amqps://` (it has no TLS listener of its own and is not reconfigured).
//!
//! With `http.ca_file` / `broker.ca_file` naming the CA the whole worker delivers through
//! the proxies; without it the same setup fails on the certificate, visibly. Plaintext
//! endpoints on other hosts are warned about when the application is built.

mod amqps;
mod build_checks;
mod https;

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
