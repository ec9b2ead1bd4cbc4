//! A tenants directory written as an operator (or the kubelet) would: each file written
//! beside and renamed into place, so the worker never reads half a file.

use std::path::PathBuf;

use scriptsync_sim::fixtures::{SIM_DATATABLE, SIM_STAGING_TABLE};

/// A tenants directory the test writes as an operator (or the kubelet) would: each file
/// written beside and renamed into place, so the worker never reads half a file.
pub struct TenantDir {
    pub path: PathBuf,
    base_url: String,
}

impl TenantDir {
    pub fn new(base_url: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "scriptsync-tenants-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self {
            path,
            base_url: base_url.to_owned(),
        }
    }

    pub fn write(&self, name: &str, text: &str) {
        let hidden = self.path.join(format!(".{name}.tmp"));
        std::fs::write(&hidden, text).unwrap();
        std::fs::rename(&hidden, self.path.join(name)).unwrap();
    }

    /// `<id>.toml` for a simulator tenant whose secret is in `<id>.secret`; `genesys_extra`
    /// adds lines to its `[genesys]` section.
    pub fn tenant(&self, id: &str, genesys_extra: &str) {
        let base = &self.base_url;
        let text = format!(
            "id = \"{id}\"\n\
             [genesys]\napi_base = \"{base}\"\nlogin_base = \"{base}\"\nclient_id = \"{id}\"\n\
             client_secret_file = \"{id}.secret\"\ndatatable_id = \"{SIM_DATATABLE}\"\n{genesys_extra}\n\
             [servicenow]\ninstance_url = \"{base}\"\nauth = \"oauth_client_credentials\"\n\
             client_id = \"{id}\"\nclient_secret_file = \"{id}.secret\"\n\
             staging_table = \"{SIM_STAGING_TABLE}\"\n"
        );
        self.write(&format!("{id}.toml"), &text);
    }

    pub fn secret(&self, id: &str, value: &str) {
        self.write(&format!("{id}.secret"), &format!("{value}\n"));
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.path.join(name)).unwrap();
    }
}

impl Drop for TenantDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
