//! The crate's layering, read off its source: which module imports which.
//!
//! Nodes are the top-level modules of `src/` and, inside each, its direct submodules. An edge
//! `a -> b` means code in `a` names an item of `b` (`use crate::b::..`, a `crate::b::..` path, a
//! `super::..` path, or a name the crate root or a `mod.rs` re-exports from `b`). Test code
//! (`tests.rs` files, `tests/` folders, `#[cfg(test)] mod tests`) and the crate root are left out:
//! they may look anywhere.
//!
//! [`import_cycles`] finds every cycle (one per strongly connected component). The test
//! `no_new_import_cycles` holds the crate to the components listed in `KNOWN_CYCLES`, so a
//! change can remove a cycle but never add one or grow one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Strongly connected components of the module graph that are tolerated, each sorted. There
/// are none: the layers point one way (see the crate docs), and a new cycle fails the test.
const KNOWN_CYCLES: &[&[&str]] = &[];

/// One source file: its module path and its code with comments and test modules removed.
struct SourceFile {
    module: Vec<String>,
    code: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("src is readable")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` is `a::b`; `src/a/mod.rs` is `a`; `src/lib.rs` is the root (empty).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The code of a file without comments, string literals and `#[cfg(test)]` modules.
fn strip(source: &str) -> String {
    let mut code = String::new();
    let mut lines = source.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // Other attributes may sit between `#[cfg(test)]` and the module.
            while lines
                .peek()
                .is_some_and(|l| l.trim_start().starts_with("#["))
            {
                lines.next();
            }
            let next = lines.peek().map(|l| l.trim_start()).unwrap_or("");
            if next.starts_with("mod ") && next.trim_end().ends_with('{') {
                // Skip the test module: it runs to the matching closing brace.
                let mut depth = 0i32;
                for inner in lines.by_ref() {
                    depth += inner.matches('{').count() as i32;
                    depth -= inner.matches('}').count() as i32;
                    if depth <= 0 && inner.contains('}') {
                        break;
                    }
                }
            }
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let mut in_string = false;
        let mut prev = '\0';
        for ch in line.chars() {
            if ch == '"' && prev != '\\' {
                in_string = !in_string;
            } else if !in_string {
                code.push(ch);
            }
            prev = ch;
        }
        code.push('\n');
    }
    code
}

fn is_ident(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_'
}

/// Every path that starts at `anchor` (`crate::`, `super::`, ...) in `code`, as its segments,
/// with `{a, b::c}` groups expanded to one path per member.
fn paths_after(code: &str, anchor: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(anchor) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + anchor.len()..];
        if before.is_some_and(|c| is_ident(c) || c == ':') {
            continue;
        }
        expand(rest, Vec::new(), &mut found);
    }
    found
}

fn expand(text: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut segments = prefix;
    let mut text = text;
    loop {
        let ident: String = text.chars().take_while(|c| is_ident(*c)).collect();
        if !ident.is_empty() {
            segments.push(ident.clone());
            text = &text[ident.len()..];
            if let Some(after) = text.strip_prefix("::") {
                text = after;
                continue;
            }
            out.push(segments);
            return;
        }
        if let Some(group) = text.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start = 0usize;
            for (i, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        expand(group[start..i].trim_start(), segments.clone(), out);
                        return;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(group[start..i].trim_start(), segments.clone(), out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return;
        }
        if !segments.is_empty() {
            out.push(segments);
        }
        return;
    }
}

/// The module tree: every module path that is a file or a folder under `src/`.
fn modules(files: &[SourceFile]) -> BTreeSet<Vec<String>> {
    let mut all = BTreeSet::new();
    for file in files {
        for len in 1..=file.module.len() {
            all.insert(file.module[..len].to_vec());
        }
    }
    all
}

/// Names a module re-exports from its children: `pub use child::Name` maps `Name` to `child`.
fn reexports(
    files: &[SourceFile],
    tree: &BTreeSet<Vec<String>>,
) -> BTreeMap<Vec<String>, Vec<String>> {
    let mut map = BTreeMap::new();
    for file in files {
        for path in paths_after(&file.code, "use ") {
            let mut full = file.module.clone();
            full.extend(path.iter().cloned());
            let Some(name) = path.last() else { continue };
            if path.len() >= 2 && tree.contains(&full[..file.module.len() + 1]) {
                let mut key = file.module.clone();
                key.push(name.clone());
                map.entry(key)
                    .or_insert_with(|| full[..file.module.len() + 1].to_vec());
            }
        }
    }
    map
}

/// The module a path names, resolved through re-exports, as deep as the module tree goes.
fn resolve(
    path: &[String],
    tree: &BTreeSet<Vec<String>>,
    aliases: &BTreeMap<Vec<String>, Vec<String>>,
) -> Option<Vec<String>> {
    let mut current: Vec<String> = Vec::new();
    for segment in path {
        let mut next = current.clone();
        next.push(segment.clone());
        if tree.contains(&next) {
            current = next;
        } else if let Some(target) = aliases.get(&next) {
            current = target.clone();
        } else {
            break;
        }
    }
    (!current.is_empty()).then_some(current)
}

/// The graph's node for a module: its top-level module, or, inside `within`, its direct child.
fn node(module: &[String], within: Option<&str>) -> Option<String> {
    match within {
        None => module.first().cloned(),
        Some(top) if module.first().is_some_and(|m| m == top) => module.get(1).cloned(),
        Some(_) => None,
    }
}

fn load() -> Vec<SourceFile> {
    let src = src_dir();
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&src).expect("under src").to_path_buf();
            SourceFile {
                module: module_of(&rel),
                code: strip(&fs::read_to_string(&path).expect("readable source")),
            }
        })
        .collect()
}

/// Edges of the module graph at one level: the top-level modules (`within` = `None`), or the
/// direct children of one top-level module.
fn edges(files: &[SourceFile], within: Option<&str>) -> BTreeMap<String, BTreeSet<String>> {
    let tree = modules(files);
    let aliases = reexports(files, &tree);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files.iter().filter(|f| !f.module.is_empty()) {
        let Some(from) = node(&file.module, within) else {
            continue;
        };
        graph.entry(from.clone()).or_default();
        // A file module's `super` is its parent; a `mod.rs`'s is its parent's parent. Both are
        // `module` minus one segment here, because `module_of` already dropped `mod`.
        let parent = &file.module[..file.module.len() - 1];
        let mut targets = Vec::new();
        for path in paths_after(&file.code, "crate::") {
            targets.extend(resolve(&path, &tree, &aliases));
        }
        for path in paths_after(&file.code, "super::") {
            let mut full = parent.to_vec();
            let mut rest = path.as_slice();
            while rest.first().is_some_and(|s| s == "super") {
                full.pop();
                rest = &rest[1..];
            }
            full.extend(rest.iter().cloned());
            targets.extend(resolve(&full, &tree, &aliases));
        }
        for target in targets {
            if let Some(to) = node(&target, within) {
                if to != from {
                    graph.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    graph
}

/// Strongly connected components with more than one node (Tarjan's algorithm), each sorted.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.found.sort();
    state.found
}

/// Every import cycle of the crate: between top-level modules (named plainly) and between the
/// children of one top-level module (named `top::child`).
pub fn import_cycles() -> Vec<Vec<String>> {
    let files = load();
    let mut all = cycles(&edges(&files, None));
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.module.first().cloned())
        .collect();
    for top in &tops {
        for component in cycles(&edges(&files, Some(top))) {
            all.push(
                component
                    .into_iter()
                    .map(|c| format!("{top}::{c}"))
                    .collect(),
            );
        }
    }
    all
}

#[test]
fn no_new_import_cycles() {
    let found = import_cycles();
    let known: Vec<Vec<String>> = KNOWN_CYCLES
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
    for component in &found {
        let allowed = known
            .iter()
            .any(|k| component.iter().all(|m| k.contains(m)));
        assert!(
            allowed,
            "import cycle between modules {component:?}; the layers must point one way \
             (see the crate docs). Graph: {:#?}",
            edges(&load(), None)
        );
    }
}

#[test]
fn the_checker_sees_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        cycles(&graph),
        vec![vec!["a".to_string(), "b".into(), "c".into()]]
    );
}

#[test]
fn paths_expand_groups() {
    let code = "use crate::{key::{KeyScope, parse}, db::Db};\nlet x = crate::exec::send(y);";
    let found = paths_after(code, "crate::");
    assert!(found.contains(&vec!["key".to_string(), "KeyScope".into()]));
    assert!(found.contains(&vec!["key".to_string(), "parse".into()]));
    assert!(found.contains(&vec!["db".to_string(), "Db".into()]));
    assert!(found.contains(&vec!["exec".to_string(), "send".into()]));
}
