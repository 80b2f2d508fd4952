//! The architecture test's view of a repository: file paths and the texts the checks read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A repository in memory: every file's relative path (with `/`), and the text
/// of its `.rs`, `.lua` and `.md` files.
#[derive(Debug, Default)]
pub struct Tree {
    pub paths: BTreeSet<String>,
    pub texts: BTreeMap<String, String>,
}

/// Directories never looked into.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

impl Tree {
    /// A tree made of the given files (for the self-checks).
    pub fn from_files(files: &[(&str, &str)]) -> Tree {
        let mut tree = Tree::default();
        for (path, text) in files {
            tree.paths.insert(path.to_string());
            tree.texts.insert(path.to_string(), text.to_string());
        }
        tree
    }

    /// Reads the repository at `root` (build output, `node_modules` and hidden directories skipped).
    pub fn load(root: &Path) -> Result<Tree, String> {
        let mut tree = Tree::default();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for entry in entries {
                let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                let kind = entry
                    .file_type()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if kind.is_dir() {
                    if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str()) {
                        pending.push(path);
                    }
                    continue;
                }
                let Ok(relative) = path.strip_prefix(root) else {
                    continue;
                };
                let relative = relative.to_string_lossy().replace('\\', "/");
                if [".rs", ".lua", ".md"].iter().any(|ext| name.ends_with(ext)) {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    tree.texts.insert(relative.clone(), text);
                }
                tree.paths.insert(relative);
            }
        }
        Ok(tree)
    }

    /// Whether `path` is a file or a directory (`src/api/`) of the tree.
    pub fn exists(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        self.paths.contains(path) || {
            let dir = format!("{path}/");
            self.paths
                .range(dir.clone()..)
                .next()
                .is_some_and(|p| p.starts_with(&dir))
        }
    }

    /// Whether `path` is a file of the tree.
    pub fn is_file(&self, path: &str) -> bool {
        self.paths.contains(path)
    }

    /// The text of a file, if it was read.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.texts.get(path).map(String::as_str)
    }
}
