//! The architecture test: layers, import cycles, file sizes, first lines and the docs, checked on this repository.
//!
//! Each `#[test]` below is one rule of issue 21 and lists every offender with
//! what to do about it. The parts, by subject:
//!
//! - `tree`: the repository read into memory (paths, texts).
//! - `lexer`: Rust source to tokens (comments, literals and `#[cfg(test)]` items dropped).
//! - `parse`: a module's `mod`, `use`, item names and code paths.
//! - `graph`: the module tree of `src/` and every file-to-file edge.
//! - `rules`: layers only import downwards; no cycle between files; axum and
//!   async-graphql only in their layers and above.
//! - `files`: every source ≤ 450 lines, with a `//! ` first line.
//! - `docs`: README.md and docs/ARCHITECTURE.md.
//! - `selfcheck`: the checker run on small made-up trees, so it cannot pass by being blind.

mod docs;
mod files;
mod graph;
mod lexer;
mod parse;
mod rules;
mod selfcheck;
mod tree;

use std::path::PathBuf;

use graph::Graph;
use tree::Tree;

/// The crate root whose modules the import rules cover.
pub const LIB_ROOT: &str = "src/lib.rs";

/// This repository, read from disk (or the checkout `ARCHITECTURE_ROOT` names,
/// to check another tree with this checker).
fn repository() -> Tree {
    let root = std::env::var_os("ARCHITECTURE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    Tree::load(&root).unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
}

/// Fails with every violation of one rule, and how to fix them.
fn assert_none(rule: &str, fix: &str, violations: &[String]) {
    if !violations.is_empty() {
        panic!(
            "{rule}: {} violation(s)\n\n{}\n\n{fix}",
            violations.len(),
            violations.join("\n")
        );
    }
}

/// Every violation of every rule in `tree` (the self-checks use it).
pub fn all_violations(tree: &Tree) -> Vec<String> {
    let graph = Graph::build(tree, LIB_ROOT);
    let mut out = graph.problems.clone();
    out.extend(graph.unresolved.iter().map(|u| format!("unresolved: {u}")));
    out.extend(rules::layer_violations(&graph));
    out.extend(rules::cycles(&graph));
    out.extend(rules::framework_violations(tree));
    out.extend(files::size_violations(tree));
    out.extend(files::first_line_violations(tree));
    out.extend(docs::readme_violations(tree));
    out.extend(docs::architecture_doc_violations(tree));
    out
}

#[test]
fn module_tree_is_complete() {
    let graph = Graph::build(&repository(), LIB_ROOT);
    assert_none("modules", "Fix the `mod` declarations.", &graph.problems);
    assert_none(
        "paths the checker cannot resolve (it would be blind to their edges)",
        "If the path compiles, the item is made in a way tests/architecture/parse.rs does \
         not know (a macro?): teach it there, or define the item plainly.",
        &graph.unresolved,
    );
}

#[test]
fn layers_only_import_downwards() {
    let graph = Graph::build(&repository(), LIB_ROOT);
    assert_none(
        "layers (domain < telemetry < auth < store < dispatch < api < http < startup)",
        "Move the item down to a layer both files may use (often domain), or invert the \
         dependency with a trait defined in the lower layer.",
        &rules::layer_violations(&graph),
    );
}

#[test]
fn frameworks_stay_in_their_layers() {
    assert_none(
        "frameworks below their layer (axum: http and above; async_graphql: api and above)",
        "Pass what the lower layer needs as plain data or a closure (a header's value, a \
         domain error), and convert at the framework's layer.",
        &rules::framework_violations(&repository()),
    );
}

#[test]
fn no_import_cycle_between_files() {
    let graph = Graph::build(&repository(), LIB_ROOT);
    assert_none(
        "import cycles between files (test code exempt)",
        "Break each loop: move the item both sides need into its own file, or make a \
         facade re-export (`pub use`) instead of using it in code.",
        &rules::cycles(&graph),
    );
}

#[test]
fn no_source_file_over_450_lines() {
    assert_none(
        "file sizes",
        "Split each file by subject (a directory with a facade mod.rs).",
        &files::size_violations(&repository()),
    );
}

#[test]
fn every_file_says_what_it_is_for() {
    assert_none(
        "first lines",
        "Start each file with `//! <what it is for>` (`-- <…>` in Lua), at least two words.",
        &files::first_line_violations(&repository()),
    );
}

#[test]
fn readme_is_short_with_its_two_commands_first() {
    assert_none(
        "README.md",
        "Keep the README a five-minute read: `cargo run` in its first code block, \
         `scripts/test.sh` in its second, details in docs/.",
        &docs::readme_violations(&repository()),
    );
}

#[test]
fn architecture_doc_names_real_files() {
    assert_none(
        "docs/ARCHITECTURE.md",
        "Name files that exist, and give each \"where to add\" section the file to edit.",
        &docs::architecture_doc_violations(&repository()),
    );
}

/// Prints every edge the checker sees (`cargo test --test architecture -- --ignored --nocapture`).
#[test]
#[ignore = "a listing for people, not a check"]
fn print_import_edges() {
    let graph = Graph::build(&repository(), LIB_ROOT);
    for e in &graph.edges {
        println!("{}:{} `{}` -> {}", e.from, e.line, e.path, e.to);
    }
    for u in &graph.unresolved {
        println!("unresolved: {u}");
    }
}
