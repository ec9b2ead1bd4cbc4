//! No import cycles between top-level modules of the crate: an edge A → B exists when a
//! non-test file of `src/A` (or `src/A.rs`) names `crate::B`; the test fails on any pair of
//! modules that reach each other, naming them. (The same rule as the workplace's
//! `module-cycles.py`, so CI catches a cycle without it.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.to_string_lossy().ends_with("_tests.rs")
        {
            out.push(path);
        }
    }
}

/// `crate::name` paths in `text`, before its first `#[cfg(test)] mod … {`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let text = match text.find("#[cfg(test)]\nmod ") {
        Some(at)
            if text[at..]
                .lines()
                .nth(1)
                .is_some_and(|l| l.trim_end().ends_with('{')) =>
        {
            &text[..at]
        }
        _ => text,
    };
    text.match_indices("crate::")
        .map(|(at, m)| {
            text[at + m.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

fn reaches(edges: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let (mut seen, mut stack) = (BTreeSet::new(), vec![from.to_owned()]);
    while let Some(node) = stack.pop() {
        for next in edges.get(&node).into_iter().flatten() {
            if next == to {
                return true;
            }
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    false
}

#[test]
fn no_cycles_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        let text = std::fs::read_to_string(file).unwrap();
        for named in named_modules(&text) {
            if named != module {
                edges.entry(module.clone()).or_default().insert(named);
            }
        }
    }
    assert!(
        edges.len() > 5,
        "the scan found the crate's modules: {edges:?}"
    );
    let modules: Vec<&String> = edges.keys().collect();
    let mut cycles = Vec::new();
    for (i, a) in modules.iter().enumerate() {
        for b in &modules[i + 1..] {
            if reaches(&edges, a, b) && reaches(&edges, b, a) {
                cycles.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:?}");
}
