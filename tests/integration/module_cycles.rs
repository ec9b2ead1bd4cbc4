//! No import cycles between the top-level modules of either crate in `src/`: the worker's
//! library (the modules `lib.rs` declares) and the binary (those `main.rs` declares: the
//! tools that drive the worker). An edge A → B exists when any file of `src/A` (or
//! `src/A.rs`) names `crate::B`, test code included (`_tests.rs` files and `#[cfg(test)]`
//! modules): a test helper that reaches back into a module that depends on it is a cycle too.
//! The test fails on any pair of modules that reach each other, naming them. (The same rule as
//! the workplace's `module-cycles.py`, so CI catches a cycle without it.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::name` paths in `text`.
fn named_modules(text: &str) -> BTreeSet<String> {
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

/// The modules a crate root (`lib.rs`, `main.rs`) declares: its `mod name;` lines.
fn declared_modules(root: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(root).unwrap();
    text.lines()
        .filter_map(|line| {
            let line = line.trim().strip_prefix("pub ").unwrap_or(line.trim());
            let name = line.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_owned())
        })
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

/// The edges between `modules` (top-level names under `src`) found in `files`.
fn edges_of(
    src: &Path,
    files: &[PathBuf],
    modules: &BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let first = rel.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if !modules.contains(&module) {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        for named in named_modules(&text) {
            if named != module && modules.contains(&named) {
                edges.entry(module.clone()).or_default().insert(named);
            }
        }
    }
    edges
}

fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let modules: Vec<&String> = edges.keys().collect();
    let mut cycles = Vec::new();
    for (i, a) in modules.iter().enumerate() {
        for b in &modules[i + 1..] {
            if reaches(edges, a, b) && reaches(edges, b, a) {
                cycles.push(format!("{a} <-> {b}"));
            }
        }
    }
    cycles
}

#[test]
fn no_cycles_between_top_level_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let library = declared_modules(&src.join("lib.rs"));
    let binary = declared_modules(&src.join("main.rs"));
    assert!(
        library.len() > 5,
        "lib.rs declares the library: {library:?}"
    );
    assert!(
        binary.contains("bench"),
        "main.rs declares the tools: {binary:?}"
    );
    assert!(library.is_disjoint(&binary), "{library:?} / {binary:?}");
    let library_edges = edges_of(&src, &files, &library);
    assert!(
        library_edges.len() > 5,
        "the scan found the library's modules: {library_edges:?}"
    );
    assert!(
        library_edges.contains_key("targets"),
        "test code counts: targets' tests name config"
    );
    let library_cycles = cycles(&library_edges);
    assert!(
        library_cycles.is_empty(),
        "library import cycles: {library_cycles:?}"
    );
    let binary_cycles = cycles(&edges_of(&src, &files, &binary));
    assert!(
        binary_cycles.is_empty(),
        "binary import cycles: {binary_cycles:?}"
    );
}
