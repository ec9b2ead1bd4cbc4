//! The worker's config file for a harness: its broker address(es), the harness's prefix, a
//! quick batch and heartbeat, an admin port of its own, and the one tenant on the simulator
//! (Genesys and ServiceNow, a secret file beside it), shaped by [`Options`].

use std::path::{Path, PathBuf};

use super::Options;

pub(super) fn write_config(
    dir: &Path,
    prefix: &str,
    tenant: &str,
    sim_url: &str,
    o: &Options,
    urls: &[String],
) -> PathBuf {
    let secret = dir.join("secret");
    std::fs::write(&secret, "proc-test-secret\n").unwrap();
    let secret = secret.display();
    // One address as `url` (the machine's broker), several as `urls` (a cluster's nodes).
    let address = match urls {
        [one] => format!("url = {one:?}"),
        many => format!("urls = {many:?}"),
    };
    let text = format!(
        r#"[broker]
{address}
prefix = "{prefix}"
prefetch = {prefetch}
{consumer_timeout}[batch]
max_changes = {max_changes}
linger = "50ms"
[shutdown]
drain_timeout = "15s"
[admin]
listen = "127.0.0.1:0"
[replica]
heartbeat = "100ms"
[[tenants]]
id = "{tenant}"
[tenants.genesys]
api_base = "{sim_url}"
login_base = "{sim_url}"
client_id = "{tenant}"
client_secret_file = "{secret}"
datatable_id = "t"
requests_per_minute = {rpm}
max_concurrency = {conc}
[tenants.servicenow]
instance_url = "{sim_url}"
auth = "oauth_client_credentials"
client_id = "{tenant}"
client_secret_file = "{secret}"
staging_table = "u_scriptsync_import"
max_concurrency = {conc}
"#,
        prefetch = o.prefetch,
        max_changes = o.max_changes,
        rpm = o.requests_per_minute,
        conc = o.max_concurrency,
        consumer_timeout = o.consumer_timeout.map_or(String::new(), |t| format!(
            "consumer_timeout = \"{}ms\"\n",
            t.as_millis()
        )),
    );
    let path = dir.join("scriptsync.toml");
    std::fs::write(&path, text).unwrap();
    path
}
