//! The architecture test's self-checks: made-up trees it must fail on, and clean ones it must pass.

use crate::all_violations;
use crate::graph::Graph;
use crate::lexer::{lex, strip_test_items, Kind};
use crate::tree::Tree;

/// A small tree that breaks no rule: three layers, a facade, a README and an ARCHITECTURE.md.
fn clean() -> Vec<(&'static str, String)> {
    let files = [
        ("src/lib.rs", "//! The crate root here.\npub mod api;\npub mod domain;\npub mod store;\n"),
        ("src/domain/mod.rs", "//! The domain layer here.\nmod ids;\npub use ids::RideId;\n"),
        ("src/domain/ids.rs", "//! Ride identifiers here.\npub struct RideId(pub u64);\n"),
        (
            "src/store/mod.rs",
            "//! The store layer here.\nuse crate::domain::RideId;\n/// Finds.\npub fn find(id: RideId) -> u64 { id.0 }\n",
        ),
        (
            "src/api/mod.rs",
            "//! The api layer here.\npub fn get() -> u64 { crate::store::find(crate::domain::RideId(1)) }\n",
        ),
        ("README.md", "# T\n\n```sh\ncargo run\n```\n\nthen\n\n```sh\nscripts/test.sh\n```\n"),
        (
            "docs/ARCHITECTURE.md",
            "# Arch\n\n## A new ride rule\n\nEdit `src/domain/ids.rs`.\n\n## A new transport\n\n- src/api/mod.rs\n\n\
             ## A new store operation\n\n`src/store/mod.rs`, with more in `src/store/…` and `src/*/mod.rs`.\n",
        ),
    ];
    files.into_iter().map(|(p, t)| (p, t.to_string())).collect()
}

/// The clean tree with `changes` applied (a path with new text, or added).
fn with(changes: &[(&'static str, &str)]) -> Tree {
    let mut files = clean();
    for (path, text) in changes {
        files.retain(|(p, _)| p != path);
        files.push((path, text.to_string()));
    }
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    Tree::from_files(&refs)
}

/// Asserts that the checker reports something containing each of `expected`.
fn fails_with(tree: &Tree, expected: &[&str]) {
    let found = all_violations(tree);
    for e in expected {
        assert!(
            found.iter().any(|v| v.contains(e)),
            "expected a violation containing {e:?}, got:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn fails_on_a_framework_below_its_layer() {
    let tree = with(&[(
        "src/store/mod.rs",
        "//! The store layer here.\nuse crate::domain::RideId;\n/// Finds.\npub fn find(id: RideId) -> u64 { let _ = axum::http::StatusCode::OK; id.0 }\n",
    )]);
    fails_with(&tree, &["src/store/mod.rs:4: `axum` in the store layer"]);
}

#[test]
fn passes_on_a_clean_tree() {
    let found = all_violations(&with(&[]));
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn fails_on_a_store_file_importing_api() {
    let store = "//! The store layer here.\nuse crate::domain::RideId;\nuse crate::api::get;\npub fn find(id: RideId) -> u64 { get() + id.0 }\n";
    fails_with(
        &with(&[("src/store/mod.rs", store)]),
        &["src/store/mod.rs:3: store imports api"],
    );
}

#[test]
fn fails_on_a_domain_file_importing_store_inline() {
    let ids = "//! Ride identifiers here.\npub struct RideId(pub u64);\nfn f() -> u64 {\n    crate::store::find(RideId(2))\n}\n";
    fails_with(
        &with(&[("src/domain/ids.rs", ids)]),
        &["src/domain/ids.rs:4: domain imports store: `crate::store::find`"],
    );
}

#[test]
fn fails_on_a_two_file_cycle_through_super() {
    let store = "//! The store layer here.\nmod redis;\nuse crate::domain::RideId;\n/// Finds.\npub fn find(id: RideId) -> u64 { redis::get(id) }\n";
    let redis = "//! A child store here.\nuse super::find;\npub fn get(id: crate::domain::RideId) -> u64 { id.0 }\nfn again() -> u64 { find(crate::domain::RideId(3)) }\n";
    fails_with(
        &with(&[("src/store/mod.rs", store), ("src/store/redis.rs", redis)]),
        &[
            "cycle between 2 files: src/store/mod.rs, src/store/redis.rs",
            "src/store/redis.rs:2 uses `super::find`",
        ],
    );
}

#[test]
fn fails_on_a_cycle_behind_a_facade_reexport() {
    let facade = "//! The store facade here.\nmod a;\nmod b;\npub use a::A;\npub use b::B;\n";
    let a = "//! Part a here.\nuse super::B;\npub struct A(pub B);\n";
    let b = "//! Part b here.\npub struct B;\nfn f(x: crate::store::A) {}\n";
    fails_with(
        &with(&[
            ("src/store/mod.rs", facade),
            ("src/store/a.rs", a),
            ("src/store/b.rs", b),
        ]),
        &["cycle between 2 files: src/store/a.rs, src/store/b.rs"],
    );
}

#[test]
fn a_facade_that_only_reexports_makes_no_cycle() {
    let facade = "//! The store facade here.\nmod a;\nmod b;\npub use a::A;\npub use self::b::{B, C as D};\n\
                  pub fn find(id: crate::domain::RideId) -> u64 { id.0 }\n";
    let a = "//! Part a here.\nuse super::{B, D};\npub struct A(pub B, pub D);\n";
    let b = "//! Part b here.\npub struct B;\npub struct C;\n";
    let tree = with(&[
        ("src/store/mod.rs", facade),
        ("src/store/a.rs", a),
        ("src/store/b.rs", b),
    ]);
    let found = all_violations(&tree);
    assert!(found.is_empty(), "{}", found.join("\n"));
    let graph = Graph::build(&tree, crate::LIB_ROOT);
    let edges: Vec<(&str, &str)> = graph
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert!(
        edges.contains(&("src/store/a.rs", "src/store/b.rs")),
        "{edges:?}"
    );
    let inward =
        |(from, to): &(&str, &str)| *from == "src/store/mod.rs" && to.starts_with("src/store/");
    assert!(!edges.iter().any(inward), "{edges:?}");
}

#[test]
fn a_reexport_the_facade_itself_uses_is_an_edge() {
    let facade = "//! The store facade here.\nmod a;\npub use a::A;\npub fn find(id: crate::domain::RideId) -> u64 { A::size() + id.0 }\n";
    let a = "//! Part a here.\npub struct A;\nimpl A { pub fn size() -> u64 { super::find(crate::domain::RideId(0)) } }\n";
    fails_with(
        &with(&[("src/store/mod.rs", facade), ("src/store/a.rs", a)]),
        &["cycle between 2 files: src/store/a.rs, src/store/mod.rs"],
    );
}

#[test]
fn test_code_strings_and_comments_are_not_imports() {
    let ids = "//! Ride identifiers here.\n// crate::api::get() in a comment\n/* crate::api::get /* nested */ */\n\
               pub struct RideId(pub u64);\npub struct Named<'a>(pub &'a str);\n\
               const S: &str = \"crate::api::get\";\nconst R: &str = r#\"crate::api::get \"\"#;\nconst C: char = '\\'';\n\
               fn lifetimes<'a>(x: &'a str) -> &'a str { x }\n\
               #[cfg(test)]\nmod tests {\n    use crate::api::get;\n}\n#[cfg(test)]\n#[path = \"gone.rs\"]\nmod more;\n";
    let found = all_violations(&with(&[("src/domain/ids.rs", ids)]));
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn lexer_tells_lifetimes_from_chars() {
    let toks = strip_test_items(&lex(
        "fn f<'a>(x: &'a u8) -> char { 'x' } 'outer: loop {} b'\\n'",
    ));
    let kinds: Vec<(Kind, &str)> = toks.iter().map(|t| (t.kind, t.text.as_str())).collect();
    assert!(kinds.contains(&(Kind::Lifetime, "'a")), "{kinds:?}");
    assert!(kinds.contains(&(Kind::Literal, "'x'")), "{kinds:?}");
    assert!(kinds.contains(&(Kind::Lifetime, "'outer")), "{kinds:?}");
    assert!(kinds.contains(&(Kind::Literal, "b'\\n'")), "{kinds:?}");
}

#[test]
fn fails_on_a_451_line_file() {
    let long = format!("//! A long file here.\n{}", "// filler\n".repeat(450));
    fails_with(
        &with(&[("src/domain/ids.rs", &long)]),
        &["src/domain/ids.rs: 451 lines"],
    );
}

#[test]
fn fails_on_a_missing_first_line_doc() {
    let ids = "/// Ride identifiers.\npub struct RideId(pub u64);\n";
    let lua = "-- one\nreturn 1\n";
    fails_with(
        &with(&[
            ("src/domain/ids.rs", ids),
            ("src/store/lib.lua", lua),
            ("tests/x.rs", "//! Word\n"),
        ]),
        &[
            "src/domain/ids.rs: first line",
            "src/store/lib.lua: first line",
            "tests/x.rs: first line",
        ],
    );
}

#[test]
fn fails_on_a_readme_without_cargo_run_first() {
    let readme = "# T\n\n```sh\nscripts/test.sh\n```\n\n```sh\ncargo run\n```\n";
    fails_with(
        &with(&[("README.md", readme)]),
        &[
            "first fenced code block should contain `cargo run`",
            "second fenced code block should contain `scripts/test.sh`",
        ],
    );
}

#[test]
fn fails_on_a_missing_path_in_the_architecture_doc() {
    let doc = "# Arch\n\n## A new ride rule\n\nEdit `src/domain/rules.rs`.\n\n## A new transport\n\n- src/api/mod.rs\n\n\
               ## Storage\n\n`src/store/mod.rs`\n";
    fails_with(
        &with(&[("docs/ARCHITECTURE.md", doc)]),
        &[
            "docs/ARCHITECTURE.md:5: `src/domain/rules.rs` does not exist",
            "section \"a new ride rule\" names no existing src/ file",
            "no section whose heading names \"new store operation\"",
        ],
    );
}

#[test]
fn items_made_by_a_local_macro_are_found() {
    let ids = "//! Ride identifiers here.\nmacro_rules! id {\n    ($name:ident) => { pub struct $name(pub u64); };\n}\n\
               id!(RideId);\nid! { DriverId }\nfn f() -> u64 { crate::store::find(RideId(2)) }\n";
    let store = "//! The store layer here.\nuse crate::domain::{DriverId, RideId};\n/// Finds.\npub fn find(id: RideId) -> u64 { id.0 }\n";
    let domain = "//! The domain layer here.\nmod ids;\npub use ids::{DriverId, RideId};\n";
    let tree = with(&[
        ("src/domain/ids.rs", ids),
        ("src/store/mod.rs", store),
        ("src/domain/mod.rs", domain),
    ]);
    fails_with(&tree, &["src/domain/ids.rs:7: domain imports store"]);
    assert!(
        !all_violations(&tree)
            .iter()
            .any(|v| v.contains("unresolved")),
        "{:?}",
        all_violations(&tree)
    );
}

#[test]
fn fails_on_a_path_it_cannot_resolve() {
    let store = "//! The store layer here.\nuse crate::domain::{RideId, Nowhere};\n/// Finds.\npub fn find(id: RideId) -> u64 { id.0 }\n";
    fails_with(
        &with(&[("src/store/mod.rs", store)]),
        &["unresolved: src/store/mod.rs:2 crate::domain::Nowhere"],
    );
}
