//! The declared `rust-version` of both crates is the one the locked dependencies need: the
//! highest `rust-version` among the packages of `Cargo.lock` (as `cargo metadata` reads them),
//! so a newcomer's older toolchain is refused by cargo with a clear message, not by a
//! dependency's compile error.

use std::process::Command;

fn version(text: &str) -> (u32, u32, u32) {
    let mut parts = text.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[test]
fn the_declared_rust_version_is_what_the_locked_dependencies_need() {
    // Not `--offline`: metadata reads the manifest of every locked package, those of other
    // platforms too (android_system_properties, …), which a Linux build never downloads.
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let ours = ["scriptsync", "scriptsync-sim"];
    let needed = packages
        .iter()
        .filter(|p| !ours.contains(&p["name"].as_str().unwrap_or("")))
        .filter_map(|p| Some((version(p["rust_version"].as_str()?), p["name"].as_str()?)))
        .max()
        .expect("dependencies declare rust-version");
    for name in ours {
        let declared = packages
            .iter()
            .find(|p| p["name"] == name)
            .and_then(|p| p["rust_version"].as_str())
            .map(version);
        assert_eq!(
            declared,
            Some(needed.0),
            "{name}'s rust-version against the locked dependencies' (highest: {})",
            needed.1
        );
    }
}
