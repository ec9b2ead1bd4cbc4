//! The configuration file's shape of the sections that hold secrets: each secret is a pair
//! of keys there (`<name>_env`, `<name>_file`), and a single [`Secret`] in the settings. The
//! settings types deserialize through these (`serde(try_from)`), so a file that gives both
//! keys, or none where one is required, is refused while it is read, and no settings value
//! ever holds two sources. They serialize back through them for `check-config`, showing the
//! references and never a value.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use super::broker::{BrokerSettings, QueueType, split_addresses};
use super::secret::Secret;
use super::tenant::{
    GenesysSettings, ServiceNowAuth, ServiceNowMode, ServiceNowSettings, default_concurrency,
    default_genesys_window, default_headroom, default_limits_namespace, default_max_rows,
    default_rpm, default_servicenow_window,
};

/// A `$to` struct literal whose fields named first are moved from `$from` by name (what the
/// two shapes of a section hold alike) and whose fields after `and` are given (what they hold
/// differently: a secret as one value or as its pair of keys, broker addresses). Each
/// conversion below then says only what it changes.
macro_rules! moved {
    ($from:ident => $to:ident { $($same:ident),* $(,)? } and { $($differ:tt)* }) => {
        $to { $($same: $from.$same,)* $($differ)* }
    };
}

/// `broker.urls` as written: a list, or one string of comma-separated URLs (the form an
/// environment variable can carry).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum UrlList {
    Many(Vec<String>),
    Joined(String),
}

impl UrlList {
    fn into_vec(self) -> Vec<String> {
        match self {
            UrlList::Many(urls) => urls,
            UrlList::Joined(text) => split_addresses(&text).collect(),
        }
    }
}

/// `[broker]` as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// Several addresses of one cluster, tried in turn; instead of `url`, never with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    urls: Option<UrlList>,
    prefix: String,
    queue_type: QueueType,
    dlq_queue_type: QueueType,
    prefetch: u16,
    max_inflight: u32,
    #[serde(with = "crate::config::duration_text")]
    confirm_timeout: Duration,
    #[serde(with = "crate::config::duration_text")]
    consumer_timeout: Duration,
    max_message_bytes: usize,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
}

impl Default for BrokerFile {
    /// The defaults, with no address given (so that `urls` alone is not "both").
    fn default() -> Self {
        Self {
            url: None,
            ..BrokerSettings::default().into()
        }
    }
}

impl TryFrom<BrokerFile> for BrokerSettings {
    type Error = String;
    fn try_from(f: BrokerFile) -> Result<Self, String> {
        let (url, other_urls) = match (f.url, f.urls.map(UrlList::into_vec)) {
            (Some(_), Some(_)) => {
                return Err(
                    "give broker.url (one address) or broker.urls (several), not both".into(),
                );
            }
            (None, Some(urls)) => {
                let mut urls = urls.into_iter();
                let first = urls.next().ok_or("broker.urls is empty")?;
                (first, urls.collect())
            }
            (url, None) => (
                url.unwrap_or_else(|| BrokerSettings::default().url),
                Vec::new(),
            ),
        };
        let password = Secret::from_pair("broker.password", f.password_env, f.password_file)?;
        Ok(moved!(f => Self {
            prefix, queue_type, dlq_queue_type, prefetch, max_inflight, confirm_timeout,
            consumer_timeout, max_message_bytes, ca_file,
        } and { url, other_urls, password }))
    }
}

impl From<BrokerSettings> for BrokerFile {
    fn from(s: BrokerSettings) -> Self {
        let (password_env, password_file) = Secret::to_pair(s.password.as_ref());
        let (url, urls) = if s.other_urls.is_empty() {
            (Some(s.url), None)
        } else {
            let all = std::iter::once(s.url).chain(s.other_urls).collect();
            (None, Some(UrlList::Many(all)))
        };
        moved!(s => Self {
            prefix, queue_type, dlq_queue_type, prefetch, max_inflight, confirm_timeout,
            consumer_timeout, max_message_bytes, ca_file,
        } and { url, urls, password_env, password_file })
    }
}

/// `[tenants.genesys]` as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenesysFile {
    region: Option<String>,
    api_base: Option<Url>,
    login_base: Option<Url>,
    client_id: String,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    datatable_id: String,
    #[serde(default = "default_rpm")]
    requests_per_minute: u32,
    #[serde(
        default = "default_genesys_window",
        with = "crate::config::duration_text"
    )]
    window: Duration,
    #[serde(default = "default_headroom")]
    headroom: f64,
    #[serde(default)]
    publish_scripts: bool,
    #[serde(default = "default_concurrency")]
    max_concurrency: usize,
    #[serde(default = "default_max_rows")]
    max_rows: usize,
    #[serde(default = "default_limits_namespace")]
    limits_namespace: String,
}

impl TryFrom<GenesysFile> for GenesysSettings {
    type Error = String;
    fn try_from(f: GenesysFile) -> Result<Self, String> {
        let what = "genesys.client_secret";
        let client_secret = Secret::from_pair(what, f.client_secret_env, f.client_secret_file)?
            .ok_or("genesys needs client_secret_env or client_secret_file")?;
        Ok(moved!(f => Self {
            region, api_base, login_base, client_id, datatable_id, requests_per_minute, window,
            headroom, publish_scripts, max_concurrency, max_rows, limits_namespace,
        } and { client_secret }))
    }
}

impl From<GenesysSettings> for GenesysFile {
    fn from(s: GenesysSettings) -> Self {
        let (client_secret_env, client_secret_file) = Secret::to_pair(Some(&s.client_secret));
        moved!(s => Self {
            region, api_base, login_base, client_id, datatable_id, requests_per_minute, window,
            headroom, publish_scripts, max_concurrency, max_rows, limits_namespace,
        } and { client_secret_env, client_secret_file })
    }
}

/// `[tenants.servicenow]` as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNowFile {
    instance_url: Url,
    auth: ServiceNowAuth,
    client_id: Option<String>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    staging_table: String,
    #[serde(default)]
    mode: ServiceNowMode,
    requests_per_hour: Option<u32>,
    #[serde(
        default = "default_servicenow_window",
        with = "crate::config::duration_text"
    )]
    window: Duration,
    #[serde(default = "default_headroom")]
    headroom: f64,
    #[serde(default = "default_concurrency")]
    max_concurrency: usize,
}

impl TryFrom<ServiceNowFile> for ServiceNowSettings {
    type Error = String;
    fn try_from(f: ServiceNowFile) -> Result<Self, String> {
        let (secret_env, secret_file) = (f.client_secret_env, f.client_secret_file);
        let client_secret = Secret::from_pair("servicenow.client_secret", secret_env, secret_file)?;
        let password = Secret::from_pair("servicenow.password", f.password_env, f.password_file)?;
        Ok(moved!(f => Self {
            instance_url, auth, client_id, username, staging_table, mode, requests_per_hour,
            window, headroom, max_concurrency,
        } and { client_secret, password }))
    }
}

impl From<ServiceNowSettings> for ServiceNowFile {
    fn from(s: ServiceNowSettings) -> Self {
        let (client_secret_env, client_secret_file) = Secret::to_pair(s.client_secret.as_ref());
        let (password_env, password_file) = Secret::to_pair(s.password.as_ref());
        moved!(s => Self {
            instance_url, auth, client_id, username, staging_table, mode, requests_per_hour,
            window, headroom, max_concurrency,
        } and { client_secret_env, client_secret_file, password_env, password_file })
    }
}
