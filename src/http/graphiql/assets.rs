//! The files GraphiQL's page loads, pinned: where the CDN has each and its
//! integrity hash, or the copies read from `--graphiql-assets` at start.

use std::path::Path;

use axum::body::Bytes;

/// One file GraphiQL's page loads.
pub(super) struct Asset {
    /// Its name under `/graphiql/` and in the assets directory.
    pub name: &'static str,
    /// Where the CDN has it.
    pub cdn: &'static str,
    /// Its Subresource Integrity hash (of the pinned version).
    pub integrity: &'static str,
    pub content_type: &'static str,
}

pub(super) const ASSETS: [Asset; 4] = [
    Asset {
        name: "react.production.min.js",
        cdn: "https://unpkg.com/react@18.3.1/umd/react.production.min.js",
        integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        name: "react-dom.production.min.js",
        cdn: "https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js",
        integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        name: "graphiql.min.js",
        cdn: "https://unpkg.com/graphiql@4.1.2/graphiql.min.js",
        integrity: "sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B",
        content_type: "text/javascript; charset=utf-8",
    },
    Asset {
        name: "graphiql.min.css",
        cdn: "https://unpkg.com/graphiql@4.1.2/graphiql.min.css",
        integrity: "sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr",
        content_type: "text/css; charset=utf-8",
    },
];

/// GraphiQL's files, when served locally.
#[derive(Debug, Default)]
pub struct LocalAssets {
    pub(super) files: Vec<(&'static str, &'static str, Bytes)>,
}

impl LocalAssets {
    /// Reads every file GraphiQL needs from `dir`, or says which is missing.
    pub fn read(dir: &Path) -> Result<Self, String> {
        let mut files = Vec::new();
        for asset in &ASSETS {
            let path = dir.join(asset.name);
            let bytes = std::fs::read(&path).map_err(|e| {
                format!(
                    "--graphiql-assets: cannot read {}: {e} (fill the directory with scripts/graphiql-assets.sh {})",
                    path.display(),
                    dir.display()
                )
            })?;
            files.push((asset.name, asset.content_type, Bytes::from(bytes)));
        }
        Ok(Self { files })
    }
}
