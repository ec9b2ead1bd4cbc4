//! The catalog's rules, one case each: added, changed, rotated, removed, broken, duplicated.

use super::*;
use crate::config::{Secret, SecretString};

fn tenant(id: &str, secret: &str, rpm: u32) -> TenantSettings {
    let text = format!(
        "[[tenants]]\nid = \"{id}\"\n[tenants.genesys]\nregion = \"mypurecloud.com\"\n\
         client_id = \"cid\"\nclient_secret_env = \"X\"\ndatatable_id = \"dt\"\n\
         requests_per_minute = {rpm}\n"
    );
    let mut t = Settings::from_toml_str(&text).unwrap().tenants.remove(0);
    if let Some(g) = t.genesys.as_mut() {
        g.client_secret = Secret::inline(SecretString::from(secret.to_owned()));
    }
    t
}

fn file(path: &str, t: TenantSettings) -> TenantFile {
    TenantFile {
        path: path.into(),
        id: Some(t.id.clone()),
        settings: Ok(t),
    }
}

fn broken(path: &str, id: Option<&str>) -> TenantFile {
    TenantFile {
        path: path.into(),
        id: id.map(str::to_owned),
        settings: Err(format!("{path}: broken")),
    }
}

fn dir(files: Vec<TenantFile>) -> Option<(&'static Path, Result<Vec<TenantFile>, String>)> {
    Some((Path::new("/t"), Ok(files)))
}

fn ids(c: &Catalog) -> Vec<&str> {
    c.entries.keys().map(String::as_str).collect()
}

#[test]
fn main_and_directory_tenants_together_with_their_sources() {
    let main = [tenant("acme", "s", 300)];
    let c = Catalog::merge(
        &main,
        dir(vec![file("/t/g.toml", tenant("globex", "s", 300))]),
        None,
    );
    assert_eq!(ids(&c), ["acme", "globex"]);
    assert_eq!(c.entries["acme"].source, Source::MainFile);
    assert_eq!(c.entries["globex"].source, Source::File("/t/g.toml".into()));
    assert!(c.problems.is_empty());
}

#[test]
fn a_rotation_changes_only_the_secrets_fingerprint_a_setting_the_shape() {
    let a = Entry::new(tenant("acme", "old", 300), Source::MainFile);
    let rotated = Entry::new(tenant("acme", "new", 300), Source::MainFile);
    let faster = Entry::new(tenant("acme", "old", 600), Source::MainFile);
    assert_eq!(a.shape, rotated.shape);
    assert_ne!(a.secrets, rotated.secrets);
    assert_ne!(a.shape, faster.shape);
    assert_eq!(a.secrets, faster.secrets);
}

#[test]
fn a_broken_file_keeps_the_last_good_settings_or_stays_absent() {
    let before = Catalog::merge(
        &[],
        dir(vec![file("/t/a.toml", tenant("acme", "s", 300))]),
        None,
    );
    // Broken with its id readable, then broken beyond reading: acme stays as it was.
    for bad in [broken("/t/a.toml", Some("acme")), broken("/t/a.toml", None)] {
        let now = Catalog::merge(
            &[],
            dir(vec![bad, file("/t/b.toml", tenant("b", "s", 1))]),
            Some(&before),
        );
        assert_eq!(ids(&now), ["acme", "b"]);
        assert_eq!(now.entries["acme"].shape, before.entries["acme"].shape);
        assert_eq!(now.problems.len(), 1);
        assert_eq!(now.problems[0].tenant.as_deref(), Some("acme"));
    }
    let never = Catalog::merge(
        &[],
        dir(vec![broken("/t/n.toml", Some("new"))]),
        Some(&before),
    );
    assert_eq!(
        ids(&never),
        Vec::<&str>::new(),
        "acme's file is gone; new never had settings"
    );
    assert_eq!(never.problems[0].tenant.as_deref(), Some("new"));
}

#[test]
fn duplicate_ids_are_problems_for_every_file_and_the_main_file_wins() {
    let before = Catalog::merge(
        &[],
        dir(vec![file("/t/a.toml", tenant("acme", "s", 300))]),
        None,
    );
    let twice = dir(vec![
        file("/t/a.toml", tenant("acme", "s", 300)),
        file("/t/b.toml", tenant("acme", "s", 600)),
    ]);
    let now = Catalog::merge(&[], twice, Some(&before));
    assert_eq!(now.problems.len(), 2);
    assert!(now.problems[0].message.contains("/t/b.toml"));
    assert_eq!(
        now.entries["acme"].shape, before.entries["acme"].shape,
        "last good kept"
    );

    let main = [tenant("acme", "s", 100)];
    let now = Catalog::merge(
        &main,
        dir(vec![file("/t/a.toml", tenant("acme", "s", 300))]),
        None,
    );
    assert_eq!(now.entries["acme"].source, Source::MainFile);
    assert!(now.problems[0].message.contains("main file"));
}

#[test]
fn a_file_gone_or_giving_another_id_removes_its_tenant() {
    let before = Catalog::merge(
        &[],
        dir(vec![file("/t/a.toml", tenant("acme", "s", 300))]),
        None,
    );
    let gone = Catalog::merge(&[], dir(vec![]), Some(&before));
    assert!(gone.entries.is_empty() && gone.problems.is_empty());
    let renamed = Catalog::merge(
        &[],
        dir(vec![file("/t/a.toml", tenant("acme2", "s", 300))]),
        Some(&before),
    );
    assert_eq!(ids(&renamed), ["acme2"]);
}

#[test]
fn an_unreadable_directory_keeps_every_tenant_it_gave() {
    let main = [tenant("m", "s", 300)];
    let before = Catalog::merge(
        &main,
        dir(vec![file("/t/a.toml", tenant("acme", "s", 300))]),
        None,
    );
    let lost = Catalog::merge(
        &main,
        Some((Path::new("/t"), Err("cannot list".into()))),
        Some(&before),
    );
    assert_eq!(ids(&lost), ["acme", "m"]);
    assert_eq!(lost.problems.len(), 1);
    assert_eq!(lost.problems[0].file, PathBuf::from("/t"));
}

#[test]
fn the_digest_covers_the_ids_only_and_is_fixed_across_builds() {
    let a = Catalog::merge(&[tenant("acme", "s", 300)], None, None);
    let b = Catalog::merge(&[tenant("acme", "other", 600)], None, None);
    assert_eq!(a.digest(), b.digest());
    assert_ne!(a.digest(), Catalog::default().digest());
    assert_ne!(digest_of(["ab", "c"]), digest_of(["a", "bc"]));
    // Pinned: replicas of different builds compare it during a rolling upgrade.
    assert_eq!(digest_of(["acme"]), 0x1a72_5939_3f7c_d1d0_u64);
}
