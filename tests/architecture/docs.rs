//! The architecture test's document rules: a short README with its two commands first, and an ARCHITECTURE.md that points at real files.

use crate::tree::Tree;

/// The longest the README may be, in lines.
pub const README_MAX_LINES: usize = 250;

/// The contents of the fenced code blocks of a Markdown text, in order.
fn code_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks
}

/// What is wrong with README.md: length, and the commands of its first two code blocks.
pub fn readme_violations(tree: &Tree) -> Vec<String> {
    let Some(text) = tree.text("README.md") else {
        return vec!["README.md: missing".to_string()];
    };
    let mut out = Vec::new();
    let lines = text.lines().count();
    if lines > README_MAX_LINES {
        out.push(format!(
            "README.md: {lines} lines (> {README_MAX_LINES}; move the rest to docs/)"
        ));
    }
    let blocks = code_blocks(text);
    for (n, (which, command)) in [("first", "cargo run"), ("second", "scripts/test.sh")]
        .into_iter()
        .enumerate()
    {
        if !blocks.get(n).is_some_and(|b| b.contains(command)) {
            out.push(format!(
                "README.md: its {which} fenced code block should contain `{command}`"
            ));
        }
    }
    out
}

/// Prefixes of the repository paths a document may name.
const PATH_PREFIXES: &[&str] = &[
    "src/",
    "tests/",
    "bench/",
    "scripts/",
    "docs/",
    "playground/",
];

/// The repository paths named in a Markdown line (in backticks, or anywhere on a list item).
fn named_paths(line: &str) -> Vec<String> {
    let trimmed = line.trim_start();
    let list = trimmed.starts_with("- ")
        || trimmed.starts_with("* ")
        || trimmed.starts_with("+ ")
        || trimmed
            .split_once(". ")
            .is_some_and(|(n, _)| n.parse::<u32>().is_ok());
    let mut spans: Vec<&str> = line.split('`').skip(1).step_by(2).collect();
    if list {
        spans.extend(line.split(|c: char| c.is_whitespace() || c == '`'));
    }
    let mut out = Vec::new();
    for span in spans {
        for word in
            span.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | ','))
        {
            let word = word.trim_matches(|c: char| matches!(c, '.' | ',' | ';' | ':' | '"' | '\''));
            // `src/x.rs:120` names a line of a file, `docs/x.md#part` a part of a page.
            let word = word.split([':', '#']).next().unwrap_or(word);
            let skipped =
                ['*', '…', '{', '<', '$'].iter().any(|c| word.contains(*c)) || word.contains("...");
            if PATH_PREFIXES.iter().any(|p| word.starts_with(p))
                && !skipped
                && !out.contains(&word.to_string())
            {
                out.push(word.to_string());
            }
        }
    }
    out
}

/// The subjects ARCHITECTURE.md must have a section for.
const SECTIONS: &[&str] = &["new ride rule", "new transport", "new store operation"];

/// What is wrong with docs/ARCHITECTURE.md: named paths that do not exist, and missing "where to add" sections.
pub fn architecture_doc_violations(tree: &Tree) -> Vec<String> {
    const DOC: &str = "docs/ARCHITECTURE.md";
    let Some(text) = tree.text(DOC) else {
        return vec![format!("{DOC}: missing")];
    };
    let mut out = Vec::new();
    let mut fenced = false;
    // (heading text, the paths named under it) per section, and the sections
    // still open (each with its heading level).
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    let mut open: Vec<(usize, usize)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if line.starts_with('#') {
            let level = line.chars().take_while(|c| *c == '#').count();
            while open.last().is_some_and(|(l, _)| *l >= level) {
                open.pop();
            }
            open.push((level, sections.len()));
            sections.push((line[level..].trim().to_lowercase(), Vec::new()));
        }
        for path in named_paths(line) {
            if !tree.exists(&path) {
                out.push(format!("{DOC}:{}: `{path}` does not exist", n + 1));
            }
            for (_, s) in &open {
                sections[*s].1.push(path.clone());
            }
        }
    }
    for subject in SECTIONS {
        let found = sections
            .iter()
            .find(|(heading, _)| heading.contains(subject));
        match found {
            None => out.push(format!(
                "{DOC}: no section whose heading names \"{subject}\""
            )),
            Some((heading, paths)) => {
                if !paths
                    .iter()
                    .any(|p| p.starts_with("src/") && tree.is_file(p))
                {
                    out.push(format!(
                        "{DOC}: section \"{heading}\" names no existing src/ file (say which file to edit)"
                    ));
                }
            }
        }
    }
    out
}
