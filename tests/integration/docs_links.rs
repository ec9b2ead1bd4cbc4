//! The docs point only at files the repository has: every relative Markdown link of the
//! README, the guides, the chart's README and the schemas' README resolves to a file or
//! directory (anchors aside).

use std::path::{Path, PathBuf};

fn docs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = ["README.md", "CHANGELOG.md", "SECURITY.md"]
        .iter()
        .map(|f| root.join(f))
        .collect();
    for dir in ["docs", "helm/scriptsync", "schemas"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "md") {
                files.push(entry.path());
            }
        }
    }
    files
}

/// The targets of `](target)` links that are not URLs, without their anchors.
fn relative_links(text: &str) -> Vec<&str> {
    text.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            let end = rest.find(')')?;
            let target = rest[..end].split('#').next()?.trim();
            let external = target.contains("://") || target.starts_with("mailto:");
            (!target.is_empty() && !external && !target.contains(' ')).then_some(target)
        })
        .collect()
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in docs() {
        let text = std::fs::read_to_string(&file).unwrap();
        for target in relative_links(&text) {
            checked += 1;
            if !file.parent().unwrap().join(target).exists() {
                broken.push(format!("{}: {target}", file.display()));
            }
        }
    }
    assert!(checked > 20, "only {checked} links found");
    assert!(
        broken.is_empty(),
        "links to files the repository does not have:\n{broken:#?}"
    );
}

#[test]
fn a_link_to_a_missing_file_is_found() {
    let text = "see [the guide](docs/operations.md#sizing) and [x](https://example.com/a)";
    assert_eq!(relative_links(text), ["docs/operations.md"]);
}
