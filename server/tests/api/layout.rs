//! The modules of each crate form no import circle: every `crate::<module>` a top-level
//! module's code names (tests aside) is an edge, and the edges must make no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Edges = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reads the source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `lib` for the crate root.
fn module_of(src: &Path, file: &Path) -> String {
    let first = file.strip_prefix(src).expect("under src").components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy().trim_end_matches(".rs").to_owned();
    if name == "main" {
        "lib".to_owned()
    } else {
        name
    }
}

/// The top-level modules named as `crate::<name>` in code before the file's tests.
fn named_modules(code: &str) -> BTreeSet<String> {
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

fn edges(crate_dir: &str) -> Edges {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(crate_dir).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "{} holds the crate's files", src.display());
    let mut edges = Edges::new();
    for file in files {
        let from = module_of(&src, &file);
        let code = std::fs::read_to_string(&file).expect("reads a file");
        for to in named_modules(&code) {
            if to != from {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    edges
}

/// A cycle of modules, if there is one.
fn cycle(edges: &Edges) -> Option<Vec<String>> {
    fn visit(node: &str, edges: &Edges, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_crates_modules_import_no_circle() {
    for krate in ["server", "app"] {
        let edges = edges(krate);
        assert!(edges.values().map(BTreeSet::len).sum::<usize>() > 5, "{krate}: edges were found");
        assert_eq!(cycle(&edges), None, "{krate}: an import circle; edges: {edges:?}");
    }
}

#[test]
fn a_circle_is_found() {
    let mut edges = Edges::new();
    edges.entry("state".into()).or_default().insert("http".into());
    edges.entry("http".into()).or_default().insert("state".into());
    assert_eq!(cycle(&edges), Some(vec!["http".to_owned(), "state".to_owned(), "http".to_owned()]));
    assert_eq!(
        named_modules("use crate::state::AppState;\n#[cfg(test)]\nuse crate::http;"),
        ["state".to_owned()].into()
    );
}
