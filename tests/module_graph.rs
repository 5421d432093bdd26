//! The crate's module graph, read from `src/`: the top-level modules import
//! each other only downwards in the documented order, and the node's own
//! modules import each other without a cycle.
//!
//! "Imports" here are the paths the code names: `crate::m...` (also inside a
//! `use crate::{m, n}` group, and `crate::Name` for a name the crate root
//! re-exports from `m`) and, inside `src/node/`, `super::m` and
//! `super::super::m`. Unit-test modules (`#[cfg(test)] mod ...` and
//! `tests.rs` files) are left out: a test may reach anywhere.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// Top-level modules, lowest first; modules on one line may not import each
/// other at all. `lib.rs` (the root) and `private.rs` (generated code's
/// support, a facade) may import anything.
const ORDER: &[&[&str]] = &[
    &["pb", "reply", "counters", "trace"],
    &["reason", "telemetry", "otel"],
    &["auth", "wire"],
    &["transport"],
    &["remote_actor"],
    &["registry"],
    &["node"],
    &["service"],
];

fn rank(module: &str) -> Option<usize> {
    ORDER.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The file's code without comments and without its unit-test module
/// (`#[cfg(test)] mod ...`, by convention last in a file). Other
/// `#[cfg(test)]` items stay.
fn code(path: &Path) -> String {
    // Comments (doc links among them) are not imports.
    let text: String = fs::read_to_string(path)
        .expect("read file")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]") {
        let at = from + i;
        let after = text[at + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ") {
            return text[..at].to_owned();
        }
        from = at + 1;
    }
    text
}

/// What `lib.rs` re-exports at the crate root, by name, with the module each
/// comes from: `crate::NodeServer` is an import of `node`.
fn root_exports(src: &Path) -> BTreeMap<String, String> {
    let lib = fs::read_to_string(src.join("lib.rs")).expect("read lib.rs");
    let mut out = BTreeMap::new();
    let mut rest = lib.as_str();
    while let Some(i) = rest.find("pub use ") {
        rest = &rest[i + "pub use ".len()..];
        let end = rest.find(';').unwrap_or(rest.len());
        let statement = &rest[..end];
        let module: String = statement
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut token = String::new();
        let mut chars = statement.chars().peekable();
        while let Some(c) = chars.next() {
            if c.is_alphanumeric() || c == '_' {
                token.push(c);
                if chars
                    .peek()
                    .is_some_and(|n| n.is_alphanumeric() || *n == '_')
                {
                    continue;
                }
                let is_path = chars.peek() == Some(&':');
                if !is_path && !["self", "as"].contains(&token.as_str()) && token != module {
                    out.insert(std::mem::take(&mut token), module.clone());
                }
                token.clear();
            }
        }
        rest = &rest[end..];
    }
    out
}

/// The first path segments named after every `prefix` in `code` (a
/// `prefix{a, b::c}` group names `a` and `b`). `$crate::` (macro text
/// expanded in users' code) is not an import of the file.
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let preceded_by_dollar = i > 0 && rest.as_bytes()[i - 1] == b'$';
        let preceded_by_ident = i > 0
            && (rest.as_bytes()[i - 1].is_ascii_alphanumeric() || rest.as_bytes()[i - 1] == b'_');
        rest = &rest[i + prefix.len()..];
        if preceded_by_dollar || preceded_by_ident {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The group's items at depth 0, up to its closing brace.
            let mut depth = 0usize;
            let mut items = vec![String::new()];
            for ch in group.chars() {
                match ch {
                    '}' if depth == 0 => break,
                    ',' if depth == 0 => items.push(String::new()),
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    c if depth == 0 => items.last_mut().expect("an item").push(c),
                    _ => {}
                }
            }
            for item in items {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    names.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// The top-level module a file belongs to (`None` for `lib.rs`).
fn top_module(src: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src).expect("under src");
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_owned();
    (name != "lib").then_some(name)
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_import_only_downwards() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let exports = root_exports(&src);
    assert_eq!(
        exports.get("NodeServer").map(String::as_str),
        Some("node"),
        "{exports:?}"
    );
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let Some(module) = top_module(&src, path) else {
            continue;
        };
        for name in named_after(&code(path), "crate::") {
            // A root re-export is an import of the module it comes from.
            let name = exports.get(&name).cloned().unwrap_or(name);
            if name != module && (rank(&name).is_some() || name == "private") {
                edges.entry(module.clone()).or_default().insert(name);
            }
        }
    }
    let mut wrong = Vec::new();
    for (from, tos) in &edges {
        if from == "private" {
            continue;
        }
        let Some(r) = rank(from) else {
            wrong.push(format!("{from} is not in ORDER"));
            continue;
        };
        for to in tos {
            match rank(to) {
                Some(t) if t < r => {}
                _ => wrong.push(format!("{from} imports {to}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the order: {wrong:?}\nall: {edges:?}"
    );
    // Every module in ORDER exists, so the check covers them all.
    for layer in ORDER {
        for m in *layer {
            assert!(
                src.join(m).is_dir() || src.join(format!("{m}.rs")).is_file(),
                "{m} is in ORDER but not in src/"
            );
        }
    }
    // The order is real: the big layers do import what sits below them.
    assert!(edges["service"].contains("node"), "{edges:?}");
    assert!(edges["node"].contains("registry"), "{edges:?}");
    assert!(edges["registry"].contains("remote_actor"), "{edges:?}");
    assert!(edges["remote_actor"].contains("transport"), "{edges:?}");
}

#[test]
fn the_nodes_modules_import_each_other_without_a_cycle() {
    let node = src().join("node");
    let mut files = Vec::new();
    rust_files(&node, &mut files);
    // node child -> node children it names.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &files {
        let rel = path.strip_prefix(&node).expect("under node");
        let child = rel
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_owned()
            })
            .expect("a child");
        if child == "mod" {
            continue;
        }
        let code = code(path);
        let mut named = named_after(&code, "crate::node::");
        // `super::` from a file directly in node/ names a sibling, and so
        // does `super::super::` from a file one folder down.
        match rel.components().count() {
            1 => named.extend(named_after(&code, "super::")),
            2 => named.extend(named_after(&code, "super::super::")),
            _ => {}
        }
        named.remove(&child);
        edges.entry(child).or_default().extend(named);
    }
    // Kahn's algorithm: whatever cannot be ordered sits on a cycle.
    let mut pending = edges.clone();
    let mut order = Vec::new();
    while let Some(next) = pending
        .iter()
        .find(|(_, deps)| {
            deps.iter()
                .all(|d| !pending.contains_key(d) || order.contains(d))
        })
        .map(|(m, _)| m.clone())
    {
        pending.remove(&next);
        order.push(next);
    }
    assert!(
        pending.is_empty(),
        "a cycle among {:?}; ordered so far {order:?}",
        pending.keys().collect::<Vec<_>>()
    );
    // The leaves the others share come before the actors that use them.
    let pos = |m: &str| order.iter().position(|o| o == m).expect("ordered");
    assert!(pos("messages") < pos("session"), "{order:?}");
    assert!(pos("session") < pos("server"), "{order:?}");
    assert!(pos("table") < pos("server"), "{order:?}");
}

#[test]
fn the_reader_of_imports_sees_groups_and_ignores_macro_paths() {
    let names = named_after(
        "use crate::{a, b::{c, d}, e::f};\nlet x = crate::g::h; $crate::i::j; my_crate::k",
        "crate::",
    );
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["a", "b", "e", "g"]);
}
