//! The README's examples, and the docs' (`docs/*.md`), run as a reader would: every shell block
//! marked `<!-- checked -->` runs in order against a service of the test's own, a fresh one for
//! each file (its address in place of 127.0.0.1:8000 and localhost:8000), each command's output
//! matched against the `# ` lines that follow it (`…` standing for anything). Shell variables an
//! example sets (`ride=…`) carry over to the next of the same file, as in a terminal. Needs bash,
//! curl and sha256sum.

use std::process::Command;

use crate::common::{StoreKind, TestApp, PATIENCE};

/// One command (possibly several lines) and what it must print.
struct Step {
    script: String,
    expected: Option<String>,
}

fn checked_steps(readme: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- checked -->" {
            continue;
        }
        assert_eq!(lines.next(), Some("```sh"), "a checked block is a sh block");
        let mut script = String::new();
        let mut expected: Vec<&str> = Vec::new();
        for line in lines.by_ref() {
            if line == "```" {
                break;
            }
            if let Some(out) = line.strip_prefix("# ").or((line == "#").then_some("")) {
                expected.push(out);
                continue;
            }
            if !expected.is_empty() {
                steps.push(Step {
                    script: std::mem::take(&mut script),
                    expected: Some(expected.join("\n")),
                });
                expected.clear();
            }
            script.push_str(line);
            script.push('\n');
        }
        steps.push(Step {
            script,
            expected: (!expected.is_empty()).then(|| expected.join("\n")),
        });
    }
    steps
}

/// Whether `output` is `expected`, `…` standing for any text.
fn matches(expected: &str, output: &str) -> bool {
    let parts: Vec<&str> = expected.split('…').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return output == expected;
    }
    if !output.starts_with(first) || output.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &output[first.len()..output.len() - last.len()];
    if !output.ends_with(last) {
        return false;
    }
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// A file of the repository, by its path from the root.
fn read(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The files whose checked examples run: the README first, then every
/// page of `docs/` that has any, by name.
fn documents() -> Vec<(String, Vec<Step>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    pages.sort();
    std::iter::once("README.md".to_owned())
        .chain(pages)
        .map(|path| {
            let steps = checked_steps(&read(&path));
            (path, steps)
        })
        .filter(|(_, steps)| !steps.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_examples_answer_what_it_says() {
    let documents = documents();
    let readme = documents
        .iter()
        .find(|(path, _)| path == "README.md")
        .map_or(0, |(_, steps)| steps.len());
    assert!(readme >= 8, "the README's checked examples: {readme}");
    assert!(
        documents.iter().any(|(path, _)| path == "docs/clients.md"),
        "docs/clients.md's checked examples (persisted queries by hand)"
    );
    for (path, steps) in &documents {
        run_in_order(path, steps).await;
    }
}

/// Runs one file's checked examples in order, against a fresh service.
async fn run_in_order(path: &str, steps: &[Step]) {
    let app = TestApp::spawn(StoreKind::Memory, |_| {}).await;
    let base = app.url("");
    let base = base.trim_end_matches('/');
    let state = std::env::temp_dir().join(format!(
        "tracking-readme-{}-{}",
        std::process::id(),
        crate::common::free_port()
    ));
    let _ = std::fs::remove_file(&state);
    // The variables the examples set, kept from one step to the next.
    let names: Vec<String> = steps
        .iter()
        .flat_map(|s| s.script.lines())
        .filter_map(|l| l.split_once("=$(").map(|(name, _)| name.trim().to_owned()))
        .filter(|name| name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    for step in steps {
        let script = step
            .script
            .replace("http://127.0.0.1:8000", base)
            .replace("http://localhost:8000", base);
        let run = format!(
            "[ -f '{state}' ] && . '{state}'\n{script}\ndeclare -p {names} > '{state}' 2>/dev/null || true\n",
            state = state.display(),
            names = names.join(" ")
        );
        // A read may be retried until it answers as shown ("a moment
        // later"); anything that changes the fleet runs once.
        let read = !script.contains("mutation") && !script.contains("--data '{");
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let output = tokio::task::spawn_blocking({
                let run = run.clone();
                move || Command::new("bash").arg("-c").arg(run).output()
            })
            .await
            .expect("join")
            .expect("bash runs");
            let printed = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
            let printed = printed.trim();
            let Some(expected) = &step.expected else {
                break;
            };
            if matches(expected, printed) {
                break;
            }
            if !read || std::time::Instant::now() > deadline {
                panic!(
                    "{path}'s example\n{script}\nprinted\n{printed}\nnot\n{expected}\n(stderr: {})",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let _ = std::fs::remove_file(&state);
}

#[test]
fn ellipses_stand_for_any_text() {
    assert!(matches("a…c", "abbbc"));
    assert!(matches(
        "HTTP/1.1 200 OK\n…\n{}",
        "HTTP/1.1 200 OK\nx: y\nz: w\n\n{}"
    ));
    assert!(!matches("a…c", "abd"));
    assert!(!matches("{\"id\":\"…\",\"s\":1}", "{\"id\":\"x\",\"s\":2}"));
    assert!(matches("exact", "exact"));
    assert!(!matches("exact", "exactly"));
}

/// The text a flag's row of the configuration table (`docs/configuration.md`) gives it.
fn table_row<'r>(page: &'r str, flag: &str) -> &'r str {
    let start = format!("| `{flag}` |");
    page.lines()
        .find(|line| line.starts_with(&start))
        .unwrap_or_else(|| panic!("no row for {flag} in docs/configuration.md's table"))
}

/// What `tracking --help` says of a flag, on one line.
fn help_of(help: &str, flag: &str) -> String {
    let start = help
        .find(&format!("{flag}\n"))
        .or_else(|| help.find(&format!("{flag} ")))
        .unwrap_or_else(|| panic!("{flag} is not in --help"));
    let rest = &help[start + flag.len()..];
    let end = rest.find("\n  -").unwrap_or(rest.len());
    rest[..end].split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `--only-persisted` runs the file's documents and nothing else: the
/// service's own (the dashboard's, the simulator's) run only once merged
/// into the file. The flag's help and the configuration table say just that.
#[tokio::test]
async fn only_persisted_is_described_as_it_behaves() {
    let own = crate::common::process::tracking_command()
        .arg("persisted-documents")
        .output()
        .expect("run tracking persisted-documents");
    let own: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&own.stdout).expect("a JSON object");
    let dashboards = own
        .values()
        .find(|text| text.contains("fleet"))
        .expect("the dashboard's fleet document")
        .clone();
    let dir = std::env::temp_dir().join(format!("tracking-only-own-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("documents.json");
    std::fs::write(&file, r#"{"my-app-1": "query Mine { __typename }"}"#).expect("write");
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.persisted_documents = Some(file.clone());
        c.only_persisted = true;
    })
    .await;
    assert_eq!(
        app.error_code(&dashboards, serde_json::json!({})).await,
        "FORBIDDEN",
        "the service's own document, not in the file"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let page = read("docs/configuration.md");
    let row = table_row(&page, "--only-persisted");
    let help = crate::common::process::tracking_command()
        .arg("--help")
        .output()
        .expect("tracking --help");
    let help = help_of(&String::from_utf8_lossy(&help.stdout), "--only-persisted");
    for (what, text) in [("configuration table", row), ("--help", help.as_str())] {
        assert!(
            text.contains("tracking persisted-documents"),
            "{what} should say the service's own documents must be merged into the file: {text}"
        );
        assert!(
            !text.contains("and the service's own"),
            "{what} says the service's own documents run without the file: {text}"
        );
    }
}
