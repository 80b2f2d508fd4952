//! The architecture test's import graph: the module tree of src/ and every file-to-file edge.
//!
//! Every `use` and every code path (`crate::…`, `super::…`, `self::…`, or a
//! path starting at a child module or an imported name) is resolved to the
//! FILE that defines the item, following `use`/`pub use` aliases and globs. A
//! `pub use` is an alias, not an edge, unless the file's own code names what it
//! re-exports; a private `use` or a code path is an edge. `mod x;` is not an
//! edge; test code is not read.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::lexer::{lex, strip_test_items};
use crate::parse::{parse_module, ModFacts, UseLeaf};
use crate::tree::Tree;

/// One module of the tree (a file, or an inline `mod x { … }` inside one).
#[derive(Debug)]
pub struct Module {
    pub file: String,
    parent: Option<usize>,
    children: HashMap<String, usize>,
    defs: HashSet<String>,
    /// Names bound by `use` (public or not): name → path, relative to this module.
    aliases: HashMap<String, Vec<String>>,
    globs: Vec<Vec<String>>,
    facts: ModFacts,
}

/// A dependency of one file on an item another file defines.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: String,
    pub line: usize,
    /// The path as written (`crate::api::X`).
    pub path: String,
    /// The file defining the item.
    pub to: String,
}

/// The module tree under one crate root, and its edges between files.
#[derive(Debug, Default)]
pub struct Graph {
    pub modules: Vec<Module>,
    pub edges: Vec<Edge>,
    /// Declared modules whose file is missing, and the like.
    pub problems: Vec<String>,
    /// Paths into this crate that name nothing the checker found (`file:line path`).
    pub unresolved: Vec<String>,
}

enum Target {
    Module(usize),
    Item(String),
}

/// How deep aliases may chain before resolution gives up (a guard against loops).
const MAX_DEPTH: usize = 24;

impl Graph {
    /// Reads the crate rooted at `root` (e.g. `src/lib.rs`) from `tree`.
    pub fn build(tree: &Tree, root: &str) -> Graph {
        let mut graph = Graph::default();
        let Some(text) = tree.text(root) else {
            graph.problems.push(format!("{root}: crate root not found"));
            return graph;
        };
        let facts = parse_module(&strip_test_items(&lex(text)));
        let dir = root.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        graph.add_module(tree, root.to_string(), dir, None, facts, 0);
        graph.link();
        graph
    }

    fn add_module(
        &mut self,
        tree: &Tree,
        file: String,
        dir: String,
        parent: Option<usize>,
        mut facts: ModFacts,
        depth: usize,
    ) -> usize {
        let id = self.modules.len();
        let mut aliases = HashMap::new();
        let mut globs = Vec::new();
        for u in &facts.uses {
            match &u.leaf.name {
                Some(name) if name != "_" => {
                    aliases.insert(name.clone(), u.leaf.path.clone());
                }
                Some(_) => {}
                None => globs.push(u.leaf.path.clone()),
            }
        }
        let decls = std::mem::take(&mut facts.mods);
        self.modules.push(Module {
            file: file.clone(),
            parent,
            children: HashMap::new(),
            defs: facts.defs.iter().cloned().collect(),
            aliases,
            globs,
            facts,
        });
        if depth > MAX_DEPTH {
            self.problems
                .push(format!("{file}: modules nested too deep"));
            return id;
        }
        for decl in decls {
            let child_dir = format!("{dir}/{}", decl.name);
            let child = if let Some(body) = decl.inline {
                self.add_module(tree, file.clone(), child_dir, Some(id), body, depth + 1)
            } else {
                let candidates = match &decl.path_attr {
                    Some(p) => vec![format!("{}/{p}", file.rsplit_once('/').map_or("", |x| x.0))],
                    None => vec![format!("{child_dir}.rs"), format!("{child_dir}/mod.rs")],
                };
                let Some((path, text)) = candidates
                    .iter()
                    .find_map(|c| tree.text(c).map(|t| (c.clone(), t)))
                else {
                    self.problems.push(format!(
                        "{file}:{}: `mod {};` but none of {} exists",
                        decl.line,
                        decl.name,
                        candidates.join(", ")
                    ));
                    continue;
                };
                let sub_dir = match path.strip_suffix("/mod.rs") {
                    Some(d) => d.to_string(),
                    None => path.trim_end_matches(".rs").to_string(),
                };
                let body = parse_module(&strip_test_items(&lex(text)));
                self.add_module(tree, path, sub_dir, Some(id), body, depth + 1)
            };
            self.modules[id].children.insert(decl.name, child);
        }
        id
    }

    /// Resolves `path` as written in module `m`; `None` when it leaves the crate.
    fn resolve(&self, m: usize, path: &[String], depth: usize) -> Option<Target> {
        if depth > MAX_DEPTH || path.is_empty() {
            return None;
        }
        let mut cur = m;
        let mut rest = path;
        match path[0].as_str() {
            "crate" => {
                cur = 0;
                rest = &path[1..];
            }
            "self" => rest = &path[1..],
            _ => {}
        }
        for seg in rest {
            if seg == "super" {
                cur = self.modules[cur].parent?;
                continue;
            }
            match self.lookup(cur, seg, depth)? {
                Target::Module(c) => cur = c,
                item @ Target::Item(_) => return Some(item),
            }
        }
        Some(Target::Module(cur))
    }

    /// What `name` means inside module `m`.
    fn lookup(&self, m: usize, name: &str, depth: usize) -> Option<Target> {
        let module = &self.modules[m];
        if let Some(&child) = module.children.get(name) {
            return Some(Target::Module(child));
        }
        if module.defs.contains(name) {
            return Some(Target::Item(module.file.clone()));
        }
        if let Some(path) = module.aliases.get(name) {
            return self.resolve(m, path, depth + 1);
        }
        module
            .globs
            .iter()
            .find_map(|glob| match self.resolve(m, glob, depth + 1)? {
                Target::Module(g) if g != m => self.lookup(g, name, depth + 1),
                _ => None,
            })
    }

    /// Whether a code path starting with `first` is one this crate can resolve.
    fn in_scope(&self, m: usize, first: &str) -> bool {
        let module = &self.modules[m];
        matches!(first, "crate" | "super" | "self")
            || module.children.contains_key(first)
            || module.aliases.contains_key(first)
    }

    /// Computes every edge between files.
    fn link(&mut self) {
        let mut edges = BTreeSet::new();
        for m in 0..self.modules.len() {
            let module = &self.modules[m];
            let idents: HashSet<&str> = module.facts.idents.iter().map(String::as_str).collect();
            let mut unresolved = Vec::new();
            let mut add = |leaf: &UseLeaf, target: Option<Target>, note: &str| {
                let crate_path = leaf
                    .path
                    .first()
                    .is_some_and(|f| matches!(f.as_str(), "crate" | "super" | "self"));
                if target.is_none() && crate_path {
                    unresolved.push(format!(
                        "{}:{} {}",
                        module.file,
                        leaf.line,
                        leaf.path.join("::")
                    ));
                }
                let to = match target {
                    Some(Target::Item(file)) => file,
                    Some(Target::Module(g))
                        if leaf.name.is_none() && !self.modules[g].defs.is_empty() =>
                    {
                        self.modules[g].file.clone()
                    }
                    _ => return,
                };
                if to != module.file {
                    edges.insert(Edge {
                        from: module.file.clone(),
                        line: leaf.line,
                        path: format!("{}{note}", leaf.path.join("::")),
                        to,
                    });
                }
            };
            for u in &module.facts.uses {
                let reexport_only = u.public
                    && u.leaf
                        .name
                        .as_deref()
                        .is_none_or(|name| !idents.contains(name));
                if reexport_only {
                    continue;
                }
                let note = if u.public {
                    " (a re-export this file's own code also names)"
                } else {
                    ""
                };
                add(&u.leaf, self.resolve(m, &u.leaf.path, 0), note);
            }
            for r in &module.facts.refs {
                if r.path.first().is_some_and(|first| self.in_scope(m, first)) {
                    let target = self.resolve(m, &r.path, 0);
                    // A code path naming a module (`crate::store`) is no dependency by itself.
                    let leaf = UseLeaf {
                        name: Some(String::new()),
                        ..r.clone()
                    };
                    add(&leaf, target, "");
                }
            }
            self.unresolved.extend(unresolved);
        }
        self.edges = edges.into_iter().collect();
    }

    /// Every file of the tree, in order.
    pub fn files(&self) -> BTreeSet<&str> {
        self.modules.iter().map(|m| m.file.as_str()).collect()
    }
}
