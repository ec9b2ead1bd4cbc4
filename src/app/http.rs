//! The outgoing HTTP side of the worker as a whole: the one client every target and token
//! fetch shares, and the warning for endpoints reached in plaintext.

use anyhow::Context;

use crate::config::{HttpSettings, REPLICA_HEADER, Settings, plaintext_endpoints, read_ca_file};

/// The one HTTP client shared by every target and token fetch: timeouts, user agent, and
/// the roots of `http.ca_file` on top of the system ones; every request it sends names this
/// replica (`X-Scriptsync-Replica`).
pub fn http_client(settings: &HttpSettings, replica: &str) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        REPLICA_HEADER,
        reqwest::header::HeaderValue::from_str(replica).context("replica id as a header")?,
    );
    let mut builder = reqwest::Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout)
        .user_agent(concat!("scriptsync/", env!("CARGO_PKG_VERSION")))
        .default_headers(headers);
    if let Some(path) = &settings.ca_file {
        let bundle = read_ca_file(path, "http.ca_file")?;
        let certs = bundle
            .certs
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .context("http.ca_file")?;
        tracing::info!(ca_file = %path.display(), certificates = certs.len(), "trusting extra CA certificates for HTTPS");
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().context("cannot build the HTTP client")
}

/// Warns once per endpoint that sends data unencrypted to a host other than this machine.
pub(super) fn warn_plaintext(settings: &Settings) {
    for (setting, url) in plaintext_endpoints(settings) {
        tracing::warn!(
            setting = %setting,
            url = %url,
            "plaintext connection to a non-loopback host: credentials and data cross the network unencrypted; use https:// or amqps://"
        );
    }
}
