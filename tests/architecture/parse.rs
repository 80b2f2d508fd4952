//! The architecture test's parser: a module's tokens to its declarations, `use` items and code paths.

use crate::lexer::{item_end, matching, text, Kind, Tok};

/// A `mod name;` (file) or `mod name { … }` (inline) declaration.
#[derive(Debug)]
pub struct ModDecl {
    pub name: String,
    /// The `#[path = "…"]` on it, if any.
    pub path_attr: Option<String>,
    /// The body of an inline module.
    pub inline: Option<ModFacts>,
    pub line: usize,
}

/// One leaf of a `use` tree: `use a::b::{c as d}` gives path `a::b::c`, name `d`.
#[derive(Debug, Clone)]
pub struct UseLeaf {
    pub path: Vec<String>,
    /// The name it binds (`None` for a glob `*`; `_` for `as _`).
    pub name: Option<String>,
    pub line: usize,
}

/// A `use` item of a module's own scope.
#[derive(Debug)]
pub struct UseItem {
    pub leaf: UseLeaf,
    /// `pub use` (any `pub(…)` too): a re-export, an alias rather than a dependency.
    pub public: bool,
}

/// What a module (a file, or an inline `mod x { … }`) declares and refers to.
#[derive(Debug, Default)]
pub struct ModFacts {
    pub mods: Vec<ModDecl>,
    /// Names of items defined here (fn, struct, enum, trait, type, const, static, union, macro).
    pub defs: Vec<String>,
    pub uses: Vec<UseItem>,
    /// Paths written in code (`crate::a::B::new`, `super::x`, `use` inside bodies), with their line.
    pub refs: Vec<UseLeaf>,
    /// Every identifier in code outside `use` items (to see whether a re-exported name is used here).
    pub idents: Vec<String>,
}

/// Parses the tokens of a module body (test items already stripped).
pub fn parse_module(t: &[Tok]) -> ModFacts {
    let mut m = ModFacts::default();
    let mut i = 0;
    while i < t.len() {
        let start = i;
        // Inner attributes `#![…]` and outer attributes `#[…]`.
        let mut path_attr = None;
        while text(t, i) == "#" {
            let open = if text(t, i + 1) == "!" { i + 2 } else { i + 1 };
            if text(t, open) != "[" {
                break;
            }
            let close = matching(t, open);
            if text(t, open + 1) == "path" && text(t, open + 2) == "=" {
                path_attr = t
                    .get(open + 3)
                    .map(|l| l.text.trim_matches('"').to_string());
            }
            i = close + 1;
        }
        let mut public = false;
        if text(t, i) == "pub" {
            public = true;
            i += 1;
            if text(t, i) == "(" {
                i = matching(t, i) + 1;
            }
        }
        let kw = text(t, i);
        if kw == "use" {
            let mut leaves = Vec::new();
            let end = use_tree(t, i + 1, &[], &mut leaves);
            m.uses
                .extend(leaves.into_iter().map(|leaf| UseItem { leaf, public }));
            i = skip_past_semicolon(t, end);
        } else if kw == "mod" && t.get(i + 1).is_some_and(|x| x.kind == Kind::Ident) {
            let name = text(t, i + 1).to_string();
            let line = t[i].line;
            if text(t, i + 2) == "{" {
                let close = matching(t, i + 2);
                let body = t.get(i + 3..close).unwrap_or(&[]);
                let inline = Some(parse_module(body));
                m.mods.push(ModDecl {
                    name,
                    path_attr,
                    inline,
                    line,
                });
                i = close + 1;
            } else {
                m.mods.push(ModDecl {
                    name,
                    path_attr,
                    inline: None,
                    line,
                });
                i = skip_past_semicolon(t, i + 2);
            }
        } else {
            if let Some(name) = defined_name(t, i) {
                m.defs.push(name);
            }
            if text(t, i + 1) == "!" && m.defs.iter().any(|d| d == text(t, i)) {
                m.defs.extend(macro_made_names(t, i + 2));
            }
            let end = item_end(t, i).max(i + 1);
            scan_code(t.get(i..end).unwrap_or(&[]), &mut m);
            i = end;
        }
        i = i.max(start + 1);
    }
    m
}

fn skip_past_semicolon(t: &[Tok], mut i: usize) -> usize {
    while i < t.len() && text(t, i) != ";" {
        i += 1;
    }
    i + 1
}

/// The name an item starting at `i` (after attributes and visibility) defines, if any.
fn defined_name(t: &[Tok], mut i: usize) -> Option<String> {
    loop {
        match text(t, i) {
            "async" | "unsafe" | "default" | "auto" => i += 1,
            "extern" => {
                i += if t.get(i + 1)?.kind == Kind::Literal {
                    2
                } else {
                    1
                }
            }
            "const" if matches!(text(t, i + 1), "fn" | "unsafe" | "async" | "extern") => i += 1,
            _ => break,
        }
    }
    let mut name = i + 1;
    match text(t, i) {
        "fn" | "struct" | "enum" | "trait" | "type" | "const" | "union" => {}
        "static" if text(t, i + 1) == "mut" => name += 1,
        "static" => {}
        "macro_rules" if text(t, i + 1) == "!" => name += 1,
        _ => return None,
    }
    let tok = t.get(name)?;
    (tok.kind == Kind::Ident && tok.text != "_").then(|| tok.text.clone())
}

/// Parses one `use` tree at `i` under `prefix`, pushing its leaves; returns the index after it.
pub fn use_tree(t: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<UseLeaf>) -> usize {
    let mut path = prefix.to_vec();
    if text(t, i) == "::" {
        i += 1;
    }
    while i < t.len() {
        let line = t[i].line;
        match text(t, i) {
            "{" => {
                let close = matching(t, i);
                i += 1;
                while i < close {
                    let next = use_tree(t, i, &path, out);
                    i = next.max(i + 1);
                    if text(t, i) == "," {
                        i += 1;
                    }
                }
                return close + 1;
            }
            "*" => {
                out.push(UseLeaf {
                    path,
                    name: None,
                    line,
                });
                return i + 1;
            }
            seg if t[i].kind == Kind::Ident => {
                let seg = seg.to_string();
                i += 1;
                if text(t, i) == "::" {
                    path.push(seg);
                    i += 1;
                    continue;
                }
                let mut name = if seg == "self" {
                    path.last().cloned().unwrap_or_default()
                } else {
                    path.push(seg.clone());
                    seg
                };
                if text(t, i) == "as" {
                    name = text(t, i + 1).to_string();
                    i += 2;
                }
                out.push(UseLeaf {
                    path,
                    name: Some(name),
                    line,
                });
                return i;
            }
            _ => return i,
        }
    }
    i
}

/// Collects the paths (`a::b::c`, nested `use`) and identifiers of a stretch of code.
fn scan_code(t: &[Tok], m: &mut ModFacts) {
    let mut k = 0;
    while k < t.len() {
        let tok = &t[k];
        if tok.is("use") {
            let mut leaves = Vec::new();
            k = use_tree(t, k + 1, &[], &mut leaves).max(k + 1);
            m.refs.extend(leaves);
            continue;
        }
        if tok.kind == Kind::Ident {
            if names_an_item(t, k) {
                m.idents.push(tok.text.clone());
            }
            let after_path = k > 0 && matches!(text(t, k - 1), "::" | ".");
            if text(t, k + 1) == "::" && !after_path {
                let mut path = vec![tok.text.clone()];
                let mut j = k + 1;
                while text(t, j) == "::" && t.get(j + 1).is_some_and(|x| x.kind == Kind::Ident) {
                    path.push(t[j + 1].text.clone());
                    j += 2;
                }
                m.refs.push(UseLeaf {
                    path,
                    name: None,
                    line: tok.line,
                });
                k = j;
                continue;
            }
        }
        k += 1;
    }
}

/// Whether identifier `k` may name an item in scope: not a field (`x.name`,
/// `name: T`), and not a new binding or definition (`let name`, `fn name`).
fn names_an_item(t: &[Tok], k: usize) -> bool {
    let before = if k == 0 { "" } else { text(t, k - 1) };
    let binds = matches!(
        before,
        "." | "let"
            | "mut"
            | "ref"
            | "fn"
            | "struct"
            | "enum"
            | "union"
            | "type"
            | "const"
            | "static"
            | "trait"
    );
    !binds && text(t, k + 1) != ":"
}

/// The names an invocation of a local `macro_rules!` defines: the identifier
/// opening each argument (`id_type!(DriverId, "driver id"); id_type!(RideId, …)`).
fn macro_made_names(t: &[Tok], open: usize) -> Vec<String> {
    let close = matching(t, open);
    let mut names = Vec::new();
    let mut k = open + 1;
    while k < close {
        let starts_argument = matches!(text(t, k - 1), "(" | "{" | "[" | "," | ";" | "]");
        if t[k].kind == Kind::Ident && starts_argument {
            names.push(t[k].text.clone());
        }
        k = if matches!(text(t, k), "(" | "[" | "{") {
            matching(t, k) + 1
        } else {
            k + 1
        };
    }
    names
}
