//! The documents checked and their fenced blocks.

use super::*;

/// Files whose blocks are checked.
pub(super) fn documents() -> Vec<PathBuf> {
    let root = repo();
    let mut docs = vec![root.join("README.md"), root.join("schemas/README.md")];
    let mut guides: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    guides.sort();
    docs.extend(guides);
    docs
}

pub(super) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One fenced block.
#[derive(Debug, Clone)]
pub(super) struct Block {
    pub(super) doc: String,
    pub(super) line: usize,
    pub(super) info: String,
    /// The `<!-- snippet: … -->` comment right before the fence, if any.
    pub(super) marker: Option<String>,
    pub(super) text: String,
}

impl Block {
    pub(super) fn at(&self) -> String {
        format!("{}:{} ({})", self.doc, self.line, self.info)
    }
}

pub(super) fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = path
        .strip_prefix(repo())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut last_marker: Option<String> = None;
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("<!-- snippet:") {
            last_marker = Some(rest.trim_end_matches("-->").trim().to_owned());
            continue;
        }
        if let Some(info) = trimmed.strip_prefix("```") {
            let mut body = String::new();
            for (_, l) in lines.by_ref() {
                if l.trim_start().starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            out.push(Block {
                doc: doc.clone(),
                line: i + 1,
                info: info.trim().to_owned(),
                marker: last_marker.take(),
                text: body,
            });
            continue;
        }
        if !trimmed.is_empty() {
            last_marker = None;
        }
    }
    out
}
