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

    /// A directory for tenants of the simulator that the first tenant of `s` uses, made
    /// `s`'s `tenants_dir`.
    pub fn for_settings(s: &mut scriptsync::config::Settings) -> Self {
        let genesys = s.tenants[0].genesys.as_ref().expect("a Genesys tenant");
        let dir = Self::new(genesys.api_base().as_str().trim_end_matches('/'));
        s.tenants_dir = Some(dir.path.clone());
        dir
    }

    pub fn write(&self, name: &str, text: &str) {
        let hidden = self.path.join(format!(".{name}.tmp"));
        std::fs::write(&hidden, text).unwrap();
        std::fs::rename(&hidden, self.path.join(name)).unwrap();
    }

    /// `<id>.toml` for a simulator tenant whose secret is in `<id>.secret`; `genesys_extra`
    /// adds lines to its `[genesys]` section.
    pub fn tenant(&self, id: &str, genesys_extra: &str) {
        let text = tenant_file(id, &self.base_url).replacen(
            "[servicenow]",
            &format!("{genesys_extra}\n[servicenow]"),
            1,
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

/// A directory laid out as the kubelet lays out a mounted Secret or ConfigMap (its
/// AtomicWriter): the files live in a hidden versioned directory `..<version>`, `..data` is a
/// symlink to the current one, and each visible name is a symlink through `..data`. An update
/// writes a new versioned directory, points a temporary symlink at it and renames that over
/// `..data` (one atomic step), then removes the old version.
pub struct KubeletVolume {
    pub path: PathBuf,
    version: u32,
}

impl KubeletVolume {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "scriptsync-kubelet-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self { path, version: 0 }
    }

    /// Makes the volume hold exactly `files` (name, content), as one update.
    pub fn update(&mut self, files: &[(String, String)]) {
        use std::os::unix::fs::symlink;
        self.version += 1;
        let old = (self.version > 1).then(|| format!("..v{}", self.version - 1));
        let new = format!("..v{}", self.version);
        std::fs::create_dir(self.path.join(&new)).unwrap();
        for (name, text) in files {
            std::fs::write(self.path.join(&new).join(name), text).unwrap();
        }
        let tmp = self.path.join("..data_tmp");
        symlink(&new, &tmp).unwrap();
        std::fs::rename(&tmp, self.path.join("..data")).unwrap();
        for (name, _) in files {
            let visible = self.path.join(name);
            if std::fs::symlink_metadata(&visible).is_err() {
                symlink(format!("..data/{name}"), &visible).unwrap();
            }
        }
        // Names gone from this version lose their visible link.
        for entry in std::fs::read_dir(&self.path).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && !files.iter().any(|(n, _)| *n == name) {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
        if let Some(old) = old {
            std::fs::remove_dir_all(self.path.join(old)).unwrap();
        }
    }
}

impl Drop for KubeletVolume {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The text of a simulator tenant file for `id` at `base_url`, its secret in `<id>.secret`.
pub fn tenant_file(id: &str, base_url: &str) -> String {
    format!(
        "id = \"{id}\"\n\
         [genesys]\napi_base = \"{base_url}\"\nlogin_base = \"{base_url}\"\nclient_id = \"{id}\"\n\
         client_secret_file = \"{id}.secret\"\ndatatable_id = \"{SIM_DATATABLE}\"\n\
         [servicenow]\ninstance_url = \"{base_url}\"\nauth = \"oauth_client_credentials\"\n\
         client_id = \"{id}\"\nclient_secret_file = \"{id}.secret\"\n\
         staging_table = \"{SIM_STAGING_TABLE}\"\n"
    )
}
