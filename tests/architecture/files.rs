//! The architecture test's file rules: every source at most 450 lines, and a first line saying what it is for.

use crate::tree::Tree;

/// The longest a source file may be, in lines.
pub const MAX_LINES: usize = 450;

/// Directories whose `.rs` files are checked.
const RUST_DIRS: &[&str] = &["src/", "tests/", "bench/", "client/", "test-support/"];

/// The checked files: `.rs` under the source directories, `.lua` under `src/`.
fn checked(tree: &Tree) -> impl Iterator<Item = (&str, &str)> {
    tree.texts.iter().filter_map(|(path, text)| {
        let rust = path.ends_with(".rs") && RUST_DIRS.iter().any(|d| path.starts_with(d));
        let lua = path.ends_with(".lua") && path.starts_with("src/");
        (rust || lua).then_some((path.as_str(), text.as_str()))
    })
}

/// Every checked file over [`MAX_LINES`], with its length.
pub fn size_violations(tree: &Tree) -> Vec<String> {
    checked(tree)
        .filter_map(|(path, text)| {
            let lines = text.lines().count();
            (lines > MAX_LINES)
                .then(|| format!("{path}: {lines} lines (> {MAX_LINES}; split it by subject)"))
        })
        .collect()
}

/// Every checked file whose first line is not `//! ` (`-- ` for Lua) and at least two words.
pub fn first_line_violations(tree: &Tree) -> Vec<String> {
    checked(tree)
        .filter_map(|(path, text)| {
            let first = text.lines().next().unwrap_or("");
            let marker = if path.ends_with(".lua") {
                "-- "
            } else {
                "//! "
            };
            let ok = first
                .strip_prefix(marker)
                .is_some_and(|rest| rest.split_whitespace().count() >= 2);
            (!ok).then(|| {
                format!("{path}: first line {first:?} should be `{marker}<what this file is for>`")
            })
        })
        .collect()
}
