//! TLS posture of the configuration: the CA files named by `http.ca_file` and
//! `broker.ca_file` (read, parsed and checked as trust anchors here, the one place files are
//! read), and which configured endpoints talk plaintext to a host other than this machine.
//!
//! A CA file adds roots to the system ones; it never replaces them, so a private CA for an
//! internal ServiceNow proxy does not stop the public Genesys endpoints from verifying.

use std::net::IpAddr;
use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use url::{Host, Url};

use super::{ConfigError, Settings, invalid};

/// The certificates of one CA file, in file order.
#[derive(Clone)]
pub struct CaBundle {
    /// The file's text, as lapin takes it (PEM; non-certificate sections are ignored).
    pub pem: String,
    /// Each `CERTIFICATE` section, DER-encoded, as reqwest takes them.
    pub certs: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaBundle({} certificates)", self.certs.len())
    }
}

/// Reads the PEM file `path` given by the setting `key` (e.g. `http.ca_file`): it must exist,
/// hold at least one `CERTIFICATE` section, and every certificate must be usable as a trust
/// anchor. Errors name the key and the path.
pub fn read_ca_file(path: &Path, key: &str) -> Result<CaBundle, ConfigError> {
    let fail = |what: String| invalid(format!("{key} = {:?}: {what}", path.display()));
    let pem = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("not a PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(fail(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    for (i, cert) in certs.iter().enumerate() {
        webpki::anchor_from_trusted_cert(cert)
            .map_err(|e| fail(format!("certificate {} is not usable as a CA: {e}", i + 1)))?;
    }
    Ok(CaBundle { pem, certs })
}

/// True when `url` sends data unencrypted (`http`, `amqp`) to a host other than this machine
/// (anything but `localhost`, 127.0.0.0/8 and `::1`). Such traffic crosses a network a
/// third party may read: credentials and tokens included.
pub fn is_plaintext_to_remote(url: &Url) -> bool {
    if !matches!(url.scheme(), "http" | "amqp") {
        return false;
    }
    let ip = match url.host() {
        None => return false,
        // `amqp` is not a scheme the URL standard knows, so its IPv4 hosts arrive as names.
        Some(Host::Domain(d)) => match d.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                return !(d == "localhost" || d.ends_with(".localhost"));
            }
        },
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
    };
    !ip.to_canonical().is_loopback()
}

/// Every configured endpoint that is plaintext to a remote host, as (setting, URL without
/// credentials). `run` logs a warning for each at start.
pub fn plaintext_endpoints(settings: &Settings) -> Vec<(String, String)> {
    let mut candidates: Vec<(String, Option<Url>)> = settings
        .broker
        .addresses()
        .map(|address| ("broker.url".to_owned(), Url::parse(address).ok()))
        .collect();
    candidates.push((
        "telemetry.otlp_endpoint".into(),
        settings.telemetry.otlp_endpoint.clone(),
    ));
    for t in &settings.tenants {
        if let Some(g) = &t.genesys {
            let key = |k: &str| format!("tenants.{}.genesys.{k}", t.id);
            candidates.push((key("api_base"), Some(g.api_base())));
            candidates.push((key("login_base"), Some(g.login_base())));
        }
        if let Some(s) = &t.servicenow {
            let key = format!("tenants.{}.servicenow.instance_url", t.id);
            candidates.push((key, Some(s.instance_url.clone())));
        }
    }
    candidates
        .into_iter()
        .filter_map(|(key, url)| {
            let mut url = url.filter(is_plaintext_to_remote)?;
            let _ = url.set_password(None);
            Some((key, url.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_to_remote_decision() {
        let cases = [
            // (url, warn?)
            ("amqp://rabbit.internal:5672/%2f", true),
            ("amqp://10.0.0.5:5672/%2f", true),
            ("http://globex.service-now.com", true),
            ("http://192.168.1.10:8080", true),
            ("http://[2001:db8::1]:8080", true),
            ("http://128.0.0.1", true),
            ("http://localhost.example.com", true),
            ("http://[::ffff:10.0.0.1]", true),
            ("amqps://rabbit.internal:5671/%2f", false),
            ("https://api.mypurecloud.com", false),
            ("https://10.0.0.5", false),
            ("amqp://127.0.0.1:5672/%2f", false),
            ("amqp://127.0.0.2/%2f", false),
            ("amqp://[::1]:5672/%2f", false),
            ("amqp://10.0.0.5/%2f", true),
            ("amqp://guest@localhost/%2f", false),
            ("http://127.0.0.1:8080", false),
            ("http://127.1.2.3", false),
            ("http://LOCALHOST:8080", false),
            ("http://localhost.:8080", false),
            ("http://sim.localhost:8080", false),
            ("http://[::1]:8080", false),
            ("http://[::ffff:127.0.0.1]:8080", false),
        ];
        for (url, warn) in cases {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(is_plaintext_to_remote(&parsed), warn, "{url}");
        }
    }

    #[test]
    fn plaintext_endpoints_names_each_setting_once() {
        let mut settings: Settings = toml::from_str(
            r#"
            [broker]
            url = "amqp://scriptsync@rabbit.internal:5672/%2f"
            [[tenants]]
            id = "acme"
            [tenants.genesys]
            api_base = "http://127.0.0.1:8080"
            login_base = "http://login.internal"
            client_id = "c"
            client_secret_env = "ACME_SECRET"
            datatable_id = "d"
            [tenants.servicenow]
            instance_url = "http://acme.service-now.com"
            auth = "basic"
            staging_table = "t"
            [[tenants]]
            id = "globex"
            [tenants.genesys]
            region = "mypurecloud.de"
            client_id = "c"
            client_secret_env = "GLOBEX_SECRET"
            datatable_id = "d"
            "#,
        )
        .unwrap();
        settings.telemetry.otlp_endpoint = Some(Url::parse("https://otel:4318").unwrap());
        let found = plaintext_endpoints(&settings);
        let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "broker.url",
                "tenants.acme.genesys.login_base",
                "tenants.acme.servicenow.instance_url"
            ]
        );
        assert_eq!(found[0].1, "amqp://scriptsync@rabbit.internal:5672/%2f");
    }

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("scriptsync-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn ca_file_errors_name_the_key_and_path() {
        let missing = Path::new("/nonexistent/ca.pem");
        let err = read_ca_file(missing, "http.ca_file")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("http.ca_file") && err.contains("/nonexistent/ca.pem"),
            "{err}"
        );

        let empty = temp_file("empty.pem", "no certificates here\n");
        let err = read_ca_file(&empty, "broker.ca_file")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("broker.ca_file") && err.contains("no PEM certificate"),
            "{err}"
        );

        let garbage = temp_file(
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let err = read_ca_file(&garbage, "http.ca_file")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("http.ca_file") && err.contains("certificate 1"),
            "{err}"
        );
    }
}
