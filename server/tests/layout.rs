#![allow(clippy::unwrap_used)]
//! The layout lib.rs describes, checked on the source: no import cycle
//! between the node's modules, infrastructure names no shell, and nothing
//! but the tools names the tools (so the node builds without them).
//!
//! The mesh names nothing of the rooms but the broker's interfaces.
//!
//! A module is a top-level one (`store`, `room`, `mesh`, ...) or, inside
//! the groups `infra`, `trust`, `edge` and `tools`, one of theirs
//! (`edge::http`). An edge is any `crate::` path outside comments and
//! `#[cfg(test)]` modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const GROUPS: [&str; 4] = ["infra", "trust", "edge", "tools"];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn unit(path: &[&str]) -> Option<String> {
    match path {
        [] => None,
        [g, m, ..] if GROUPS.contains(g) => Some(format!("{g}::{m}")),
        [m, ..] => Some((*m).to_owned()),
    }
}

/// The source without comments and without its `#[cfg(test)] mod` blocks.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Module paths named after `crate::`, including `crate::{a, b::c}`.
fn named(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            for item in group.split('}').next().unwrap_or("").split(',') {
                out.push(item.trim().split("::").map(str::to_owned).collect());
            }
        } else {
            let path: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
            out.push(path.split("::").filter(|s| !s.is_empty()).map(str::to_owned).collect());
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut g = Graph::new();
    for file in all {
        let rel = file.strip_prefix(&src).unwrap().with_extension("");
        let mut parts: Vec<&str> = rel.iter().map(|s| s.to_str().unwrap()).collect();
        if matches!(parts.last(), Some(&"mod" | &"lib")) {
            parts.pop();
        }
        if parts.first() == Some(&"bin") || parts.last() == Some(&"tests") {
            continue;
        }
        let Some(from) = unit(&parts) else { continue };
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for path in named(&code) {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(to) = unit(&path).filter(|to| *to != from && to != "core") {
                g.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    g
}

/// Strongly connected groups of more than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        for w in t.g.get(v).into_iter().flatten() {
            if !t.index.contains_key(w.as_str()) {
                visit(t, w);
                let lw = t.low[w.as_str()];
                t.low.entry(v).and_modify(|l| *l = (*l).min(lw));
            } else if t.stack.contains(&w.as_str()) {
                let iw = t.index[w.as_str()];
                t.low.entry(v).and_modify(|l| *l = (*l).min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let at = t.stack.iter().rposition(|x| *x == v).unwrap();
            let group: Vec<String> = t.stack.drain(at..).map(str::to_owned).collect();
            if group.len() > 1 {
                t.out.push(group);
            }
        }
    }
    let mut t = T { g, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), out: Vec::new() };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn the_node_has_no_import_cycle() {
    let g = graph();
    assert!(g.len() > 15, "the source was read: {g:?}");
    let found = cycles(&g);
    assert!(found.is_empty(), "modules that name each other in a circle: {found:?}");
}

#[test]
fn only_tools_name_the_tools_and_infrastructure_names_no_shell() {
    for (from, to) in graph() {
        for t in to {
            if !from.starts_with("tools::") {
                assert!(!t.starts_with("tools"), "{from} names {t}: the node must build without the tools");
            }
            if from.starts_with("infra::") {
                assert!(t.starts_with("infra::"), "{from} names {t}: infrastructure names no shell");
            }
        }
    }
}

/// The names the mesh's files take from `crate::room`.
fn mesh_names_of_rooms() -> BTreeSet<String> {
    let mut all = Vec::new();
    files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/mesh"), &mut all);
    let mut out = BTreeSet::new();
    for file in all {
        let code = code_of(&std::fs::read_to_string(&file).unwrap());
        for (i, _) in code.match_indices("crate::room::") {
            let rest = &code[i + "crate::room::".len()..];
            let items = match rest.strip_prefix('{') {
                Some(group) => group.split('}').next().unwrap_or(""),
                None => rest.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).next().unwrap_or(""),
            };
            out.extend(items.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()));
        }
    }
    out
}

/// The mesh reaches rooms through the broker's two interfaces only
/// (`room/broker.rs`): never a room's commands, handle, hub or index.
#[test]
fn the_mesh_names_only_the_broker_of_rooms() {
    let allowed = ["Broker", "PeerEvent", "RoomEvents", "RoomStopped", "Sign", "with_vectors"];
    let names = mesh_names_of_rooms();
    assert!(!names.is_empty(), "the source was read");
    for n in &names {
        assert!(allowed.contains(&n.as_str()), "the mesh names room::{n}; it may name only {allowed:?}");
    }
}

#[test]
fn the_checker_sees_a_cycle() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("c".into()).or_default().insert("d".into());
    assert_eq!(cycles(&g).len(), 1);
    assert_eq!(named("use crate::{store::Store, room::{Hub}};\nlet x = crate::edge::http::x;").len(), 3);
}
