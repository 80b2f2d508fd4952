//! The architecture test's import rules: layers only import downwards, and no cycle between files.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::graph::{Edge, Graph};

/// The layers, low to high; `top` is `simulate/`, `lib.rs` and `main.rs`.
pub const LAYERS: &[&str] = &[
    "domain",
    "roads",
    "telemetry",
    "auth",
    "store",
    "dispatch",
    "api",
    "http",
    "startup",
    "top",
];

/// The layer of a file under `src/`: its top-level module. A top-level file
/// other than a layer's own (`telemetry.rs`) is `startup`, except `error.rs` (`domain`).
pub fn layer_of(file: &str) -> Option<&'static str> {
    let rest = file.strip_prefix("src/")?;
    let (first, nested) = match rest.split_once('/') {
        Some((dir, _)) => (dir, true),
        None => (rest.trim_end_matches(".rs"), false),
    };
    let name = match first {
        "lib" | "main" if !nested => "top",
        "simulate" => "top",
        "error" if !nested => "domain",
        other => other,
    };
    match LAYERS.iter().find(|l| **l == name) {
        Some(layer) => Some(layer),
        None if !nested => Some("startup"),
        None => None,
    }
}

fn rank(layer: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| *l == layer)
        .unwrap_or(LAYERS.len())
}

/// Every edge from a lower layer to a higher one, one line each.
pub fn layer_violations(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for file in graph.files() {
        if layer_of(file).is_none() {
            out.push(format!(
                "{file}: its top-level module is not a layer; add it to LAYERS in \
                 tests/architecture/rules.rs ({})",
                LAYERS.join(" < ")
            ));
        }
    }
    // One entry per (file, defining file): every line and path that makes it.
    let mut pairs: BTreeMap<(&str, &str), Vec<&Edge>> = BTreeMap::new();
    for e in &graph.edges {
        pairs.entry((&e.from, &e.to)).or_default().push(e);
    }
    for ((from_file, to_file), edges) in pairs {
        let (Some(from), Some(to)) = (layer_of(from_file), layer_of(to_file)) else {
            continue;
        };
        if rank(to) > rank(from) {
            let lines: Vec<String> = edges.iter().map(|e| e.line.to_string()).collect();
            let mut paths: Vec<String> = Vec::new();
            for e in &edges {
                let path = format!("`{}`", e.path);
                if !paths.contains(&path) {
                    paths.push(path);
                }
            }
            out.push(format!(
                "{from_file}:{}: {from} imports {to}: {} defined in {to_file} ({from} may use only {})",
                lines.join(","),
                paths.join(", "),
                LAYERS[..=rank(from)].join(", ")
            ));
        }
    }
    out
}

/// Every import cycle between files: one entry per strongly connected set of
/// files, with the shortest cycle through it spelled out edge by edge.
pub fn cycles(graph: &Graph) -> Vec<String> {
    // One edge per (from, to) pair: the first line that makes it.
    let mut first: BTreeMap<(&str, &str), &Edge> = BTreeMap::new();
    for e in &graph.edges {
        first.entry((&e.from, &e.to)).or_insert(e);
    }
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in first.keys() {
        next.entry(from).or_default().push(to);
    }
    let mut out = Vec::new();
    for scc in strongly_connected(&graph.files(), &next) {
        if scc.len() < 2 {
            continue;
        }
        let start = scc.iter().next().copied().unwrap_or_default();
        let mut text = format!(
            "cycle between {} files: {}\n  the shortest loop:",
            scc.len(),
            scc.iter().copied().collect::<Vec<_>>().join(", ")
        );
        for (from, to) in shortest_loop(start, &scc, &next) {
            if let Some(e) = first.get(&(from, to)) {
                text += &format!(
                    "\n    {}:{} uses `{}` (defined in {})",
                    e.from, e.line, e.path, e.to
                );
            }
        }
        let inside: Vec<&&Edge> = first
            .iter()
            .filter(|((f, t), _)| scc.contains(f) && scc.contains(t))
            .map(|(_, e)| e)
            .collect();
        text += &format!("\n  every edge inside it ({}):", inside.len());
        for e in inside.iter().take(40) {
            text += &format!("\n    {}:{} `{}` -> {}", e.from, e.line, e.path, e.to);
        }
        out.push(text);
    }
    out
}

/// Tarjan's strongly connected components of the graph `next` over `nodes`.
fn strongly_connected<'a>(
    nodes: &BTreeSet<&'a str>,
    next: &BTreeMap<&'a str, Vec<&'a str>>,
) -> Vec<BTreeSet<&'a str>> {
    struct State<'a> {
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<BTreeSet<&'a str>>,
    }
    fn visit<'a>(v: &'a str, next: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in next.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if !s.index.contains_key(w) {
                visit(w, next, s);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut scc = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                scc.insert(w);
                if w == v {
                    break;
                }
            }
            s.out.push(scc);
        }
    }
    let mut s = State {
        index: HashMap::new(),
        low: HashMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in nodes.iter().chain(next.keys()) {
        if !s.index.contains_key(v) {
            visit(v, next, &mut s);
        }
    }
    s.out
}

/// The edges of a shortest path from `start` back to itself inside `scc` (breadth first).
fn shortest_loop<'a>(
    start: &'a str,
    scc: &BTreeSet<&'a str>,
    next: &BTreeMap<&'a str, Vec<&'a str>>,
) -> Vec<(&'a str, &'a str)> {
    let mut came_from: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in next.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if !scc.contains(w) {
                continue;
            }
            if w == start {
                let mut path = vec![(v, w)];
                let mut cur = v;
                while cur != start {
                    let Some(&prev) = came_from.get(cur) else {
                        break;
                    };
                    path.push((prev, cur));
                    cur = prev;
                }
                path.reverse();
                return path;
            }
            if !came_from.contains_key(w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    Vec::new()
}

/// The frameworks each stay in the layers that are about them: the web
/// framework (`axum`) in `http` and above, the GraphQL one
/// (`async_graphql`) in `api` and above. A lower layer naming one (a
/// `HeaderMap` in telemetry, a GraphQL error in the store) fails, one line
/// per file and framework. Test code is exempt.
pub fn framework_violations(tree: &crate::tree::Tree) -> Vec<String> {
    const FRAMEWORKS: &[(&str, &str)] = &[("axum", "http"), ("async_graphql", "api")];
    let mut out = Vec::new();
    for (path, text) in &tree.texts {
        let Some(layer) = path.ends_with(".rs").then(|| layer_of(path)).flatten() else {
            continue;
        };
        let tokens = crate::lexer::strip_test_items(&crate::lexer::lex(text));
        for (framework, lowest) in FRAMEWORKS {
            if rank(layer) >= rank(lowest) {
                continue;
            }
            if let Some(tok) = tokens.iter().find(|t| t.is(framework)) {
                out.push(format!(
                    "{path}:{}: `{framework}` in the {layer} layer (it belongs in {lowest} and above)",
                    tok.line
                ));
            }
        }
    }
    out
}
