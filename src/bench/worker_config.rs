//! The config file of a bench or chaos worker ([`super::worker::WorkerProcess`]): only keys
//! that exist today (so an older build accepts it), secrets in files beside it (the worker
//! refuses a password in `broker.urls`), every tenant on the simulator at the run's quota.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use scriptsync_sim::fixtures;
use url::Url;

use scriptsync::config::BrokerSettings;

use super::worker::WorkerSpec;

/// Writes `worker.toml` (and its secret files) into `dir`; returns its path.
pub fn write_config(
    dir: &Path,
    spec: &WorkerSpec<'_>,
    admin: SocketAddr,
) -> anyhow::Result<PathBuf> {
    let secret = dir.join("client-secret");
    std::fs::write(&secret, format!("{}\n", fixtures::SIM_SECRET))?;
    // The worker refuses a password in broker.urls: move one into a file (the nodes of one
    // cluster share their users).
    let mut urls = Vec::new();
    let mut password_line = String::new();
    for address in BrokerSettings::with_addresses(spec.broker_url).addresses() {
        let mut url = Url::parse(address).context("bench: --broker-url")?;
        if let Some(password) = url.password().map(str::to_owned) {
            let file = dir.join("broker-password");
            std::fs::write(&file, format!("{password}\n"))?;
            let _ = url.set_password(None);
            password_line = format!("password_file = {:?}\n", file.display().to_string());
        }
        urls.push(url.to_string());
    }
    let s = spec.settings;
    let sim = spec.sim.base_url();
    let mut text = format!(
        "[broker]\nurls = {urls:?}\n{password_line}prefix = {prefix:?}\nprefetch = {prefetch}\nqueue_type = \"quorum\"\n\
         [batch]\nmax_changes = {max_changes}\nlinger = \"{linger}ms\"\n\
         [shutdown]\ndrain_timeout = \"5s\"\n[admin]\nlisten = \"{admin}\"\n[log]\nlevel = \"warn\"\n\
         [replica]\n{replica}",
        prefix = spec.prefix,
        prefetch = s.prefetch,
        max_changes = s.max_changes,
        linger = s.linger.as_millis(),
        replica = match spec.replica {
            Some(r) => format!(
                "id = {:?}\nheartbeat = \"{}ms\"\n",
                r.id,
                r.heartbeat.as_millis()
            ),
            None => "heartbeat = \"100ms\"\n".to_owned(),
        },
    );
    let secret = secret.display().to_string();
    for tenant in spec.tenants {
        let _ = write!(
            text,
            "[[tenants]]\nid = {tenant:?}\n\
             [tenants.genesys]\napi_base = {sim:?}\nlogin_base = {sim:?}\nclient_id = {tenant:?}\n\
             client_secret_file = {secret:?}\ndatatable_id = {table:?}\nrequests_per_minute = {rpm}\n\
             window = \"{window}ms\"\nheadroom = {headroom}\nmax_concurrency = {conc}\n\
             [tenants.servicenow]\ninstance_url = {sim:?}\nauth = \"oauth_client_credentials\"\n\
             client_id = {tenant:?}\nclient_secret_file = {secret:?}\nstaging_table = {staging:?}\n\
             max_concurrency = {conc}\n{sn_window}",
            table = fixtures::SIM_DATATABLE,
            staging = fixtures::SIM_STAGING_TABLE,
            rpm = spec.quota.requests,
            window = spec.quota.window.as_millis(),
            headroom = s.headroom,
            conc = s.max_concurrency,
            sn_window = spec.servicenow_window.map_or(String::new(), |w| format!(
                "window = \"{}ms\"\n",
                w.as_millis()
            )),
        );
    }
    let path = dir.join("worker.toml");
    std::fs::write(&path, text).context("bench: writing the worker config")?;
    Ok(path)
}
