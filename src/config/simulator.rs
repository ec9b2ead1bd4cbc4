//! The worker's settings for tenants on the built-in simulator (`scriptsync sim`): the same
//! org as [`scriptsync_sim::fixtures`] (table names, the secret it accepts), seen from the
//! worker's side. The demo, the bench and the tests build their settings here, so they all
//! run the real worker against one fake org, and none of them imports another.

use std::time::Duration;

use scriptsync_sim::fixtures::{SIM_DATATABLE, SIM_SECRET, SIM_STAGING_TABLE};
use url::Url;

use super::{
    BrokerSettings, GenesysSettings, QueueType, Secret, SecretString, ServiceNowAuth,
    ServiceNowMode, ServiceNowSettings, Settings, TenantSettings,
};

/// A tenant with both targets on the simulator at `base_url`; client id = tenant id.
pub fn sim_tenant(id: &str, base_url: &str) -> TenantSettings {
    let base = Url::parse(base_url).expect("simulator base URL");
    TenantSettings {
        id: id.to_owned(),
        prefetch: None,
        genesys: Some(GenesysSettings {
            region: None,
            api_base: Some(base.clone()),
            login_base: Some(base.clone()),
            client_id: id.to_owned(),
            client_secret: Secret::inline(SecretString::from(SIM_SECRET)),
            datatable_id: SIM_DATATABLE.to_owned(),
            requests_per_minute: 300,
            window: Duration::from_secs(60),
            headroom: 0.9,
            publish_scripts: false,
            max_concurrency: 4,
            max_rows: 5_000,
            limits_namespace: "platform.api".to_owned(),
        }),
        servicenow: Some(ServiceNowSettings {
            instance_url: base,
            auth: ServiceNowAuth::OauthClientCredentials,
            client_id: Some(id.to_owned()),
            client_secret: Some(Secret::inline(SecretString::from(SIM_SECRET))),
            username: None,
            password: None,
            staging_table: SIM_STAGING_TABLE.to_owned(),
            mode: ServiceNowMode::Batch,
            requests_per_hour: None,
            window: Duration::from_secs(3600),
            headroom: 0.9,
            max_concurrency: 4,
        }),
    }
}

/// Whole settings for `tenants` on the simulator, under a broker prefix.
pub fn sim_settings(
    broker_url: &str,
    prefix: &str,
    base_url: &str,
    tenants: &[String],
) -> Settings {
    let mut settings = Settings {
        broker: BrokerSettings {
            prefix: prefix.to_owned(),
            queue_type: QueueType::Quorum,
            ..BrokerSettings::with_addresses(broker_url)
        },
        tenants: tenants.iter().map(|t| sim_tenant(t, base_url)).collect(),
        ..Settings::default()
    };
    settings.shutdown.drain_timeout = Duration::from_secs(5);
    // One replica on a private prefix: a short beat, so the start-up settle (two beats)
    // does not delay the run.
    settings.replica.heartbeat = Duration::from_millis(100);
    settings
}

/// A random broker prefix, so runs never share queues.
pub fn random_prefix(kind: &str) -> String {
    format!(
        "scriptsync-{kind}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}
