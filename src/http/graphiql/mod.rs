//! GraphiQL at `GET /graphql` (for a browser, or a GET without a query).
//!
//! GraphiQL 4 and React 18, the last majors that ship browser-ready builds
//! (GraphiQL 5 and React 19 ship only modules for bundlers), pinned to exact
//! versions. By default the page loads them from the unpkg CDN, each with
//! its Subresource Integrity hash; with `--graphiql-assets DIR` (filled by
//! `scripts/graphiql-assets.sh`) the service serves them itself under
//! `/graphiql/`, read once at start, so GraphiQL works with no internet.
//! Subscriptions run over `/ws` (GraphiQL bundles graphql-ws); the headers
//! editor's `Authorization` goes with every request and into the
//! WebSocket's `connection_init`.

mod assets;

use axum::{
    extract::{Path as UrlPath, State},
    http::{header, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};

pub use assets::LocalAssets;

use super::AppState;
use assets::{Asset, ASSETS};

/// The page.
pub async fn page(state: &AppState) -> Response {
    let local = state.web.graphiql.is_some();
    let tag = |asset: &Asset| -> String {
        let (src, integrity) = if local {
            (format!("/graphiql/{}", asset.name), String::new())
        } else {
            (
                asset.cdn.to_owned(),
                format!(
                    r#" integrity="{}" crossorigin="anonymous""#,
                    asset.integrity
                ),
            )
        };
        if asset.name.ends_with(".css") {
            format!(r#"<link rel="stylesheet" href="{src}"{integrity}>"#)
        } else {
            format!(r#"<script src="{src}"{integrity}></script>"#)
        }
    };
    let [react, react_dom, graphiql, css] = &ASSETS;
    let whence = if local {
        "this service (/graphiql/)"
    } else {
        "the unpkg CDN; without internet, start the service with --graphiql-assets (see docs/clients.md)"
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracking · GraphiQL</title>
<style>body {{ margin: 0; height: 100vh; font-family: system-ui, sans-serif; }} #graphiql {{ height: 100vh; }}</style>
{css}
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
{react}
{react_dom}
{graphiql}
<script>
  (function () {{
    var root = document.getElementById('graphiql');
    if (!window.GraphiQL || !window.React || !window.ReactDOM) {{
      root.textContent = 'GraphiQL did not load its scripts from {whence}.';
      return;
    }}
    var ws = new URL('/ws', location.href);
    ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
    var fetcher = GraphiQL.createFetcher({{
      url: new URL('/graphql', location.href).toString(),
      subscriptionUrl: ws.toString(),
    }});
    ReactDOM.createRoot(root).render(React.createElement(GraphiQL, {{ fetcher: fetcher, defaultEditorToolsVisibility: true }}));
  }})();
</script>
</body>
</html>
"#,
        css = tag(css),
        react = tag(react),
        react_dom = tag(react_dom),
        graphiql = tag(graphiql),
    );
    Html(html).into_response()
}

/// `GET /graphiql/{file}`: a local asset.
pub async fn asset(State(state): State<AppState>, UrlPath(file): UrlPath<String>) -> Response {
    let found = state
        .web
        .graphiql
        .as_ref()
        .and_then(|assets| assets.files.iter().find(|(name, _, _)| *name == file));
    match found {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=86400"),
                ),
            ],
            bytes.clone(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
