//! `GET /roads?bbox=south,west,north,east&zoom=z`: the road network within
//! a box (`--roads`, and the areas' own roads) as the dashboard's base map draws it (simplified for the zoom, the
//! most important roads first, at most [`MAX_BODY_BYTES`], `truncated`
//! when some were left out), so a real map shows with no tile server.
//!
//! Same origin only (another origin is refused before this runs) and, when
//! tokens are required, for a verified token of any role, checked before
//! the parameters are read. Without `--roads`: 404 `NOT_FOUND`; parameters
//! that are not a box and a zoom: 400 `BAD_USER_INPUT`.
//!
//! The answer, coordinates in whole units of 1/`scale` degree, each line
//! delta-encoded after its first point:
//!
//! ```json
//! {"attribution": "© OpenStreetMap contributors", "bbox": [s, w, n, e], "zoom": 15,
//!  "scale": 100000, "classes": ["major", "medium", "minor"],
//!  "lines": [[class, lat0, lng0, dlat1, dlng1, …], …], "points": 123, "truncated": false}
//! ```

use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::{
    auth::Caller,
    domain::error::Error,
    http::{error_response, AppState},
    roads::{Drawing, MapBox, DRAWING_SCALE, MAX_DRAWING_BYTES, MAX_DRAWING_ZOOM},
};

/// The most bytes of one answer (the lines' bound plus the envelope's).
pub const MAX_BODY_BYTES: usize = MAX_DRAWING_BYTES + 1024;
/// The longest query string read.
const MAX_QUERY_BYTES: usize = 256;
/// What the map's data requires be shown with it (ODbL).
pub const ATTRIBUTION: &str = "© OpenStreetMap contributors";

/// `GET /roads`.
pub(super) async fn roads(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if state.verifier.is_some() {
        match state.caller(&headers).await {
            Ok(Caller::Token { .. }) => {}
            Ok(_) => {
                return error_response(&Error::Unauthenticated(
                    "the road map needs a token (Authorization: Bearer …)".into(),
                ))
            }
            Err(error) => return error_response(&error),
        }
    }
    let Some(map) = state.web.roads.clone() else {
        return error_response(&Error::NotFound(
            "no roads are loaded (start the service with --roads FILE)".into(),
        ));
    };
    let (bounds, zoom) = match parse(query.as_deref().unwrap_or("")) {
        Ok(asked) => asked,
        Err(message) => return error_response(&Error::BadInput(message)),
    };
    let Ok(_permit) = map.drawings.clone().acquire_owned().await else {
        return error_response(&Error::TooManyRequests("the road map is closed".into()));
    };
    let networks = map.networks.clone();
    let drawn = tokio::task::spawn_blocking(move || {
        // Each network in what the ones before left of the bound.
        let mut all = Drawing::default();
        for roads in networks.iter() {
            let separator = usize::from(all.bytes > 0);
            let left = MAX_DRAWING_BYTES.saturating_sub(all.bytes + separator);
            let drawing = roads.draw(&bounds.0, zoom, left);
            if !drawing.lines.is_empty() {
                all.bytes += drawing.bytes + separator;
            }
            all.points += drawing.points;
            all.truncated |= drawing.truncated;
            all.lines.extend(drawing.lines);
        }
        all
    })
    .await;
    let Ok(drawing) = drawn else {
        return error_response(&Error::internal("drawing the roads failed"));
    };
    let lines: Vec<Vec<i64>> = drawing
        .lines
        .into_iter()
        .map(|line| {
            let mut out = Vec::with_capacity(line.points.len() + 1);
            out.push(line.class as i64);
            out.extend(line.points);
            out
        })
        .collect();
    let body = json!({
        "attribution": ATTRIBUTION,
        "bbox": bounds.1,
        "zoom": zoom,
        "scale": DRAWING_SCALE,
        "classes": ["major", "medium", "minor"],
        "lines": lines,
        "points": drawing.points,
        "truncated": drawing.truncated,
    });
    (
        [(header::CACHE_CONTROL, "private, max-age=300")],
        Json(body),
    )
        .into_response()
}

/// `bbox=s,w,n,e&zoom=z` (other parameters ignored), or why not.
fn parse(query: &str) -> Result<((MapBox, [f64; 4]), f64), String> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(format!("the query is over {MAX_QUERY_BYTES} bytes"));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| "the query is not URL-encoded parameters".to_owned())?;
    let value = |name: &str| {
        let mut found = pairs.iter().filter(|(k, _)| k == name);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Ok(v.as_str()),
            (None, _) => Err(format!("{name} is missing")),
            (Some(_), Some(_)) => Err(format!("{name} is given twice")),
        }
    };
    let edges: Vec<f64> = value("bbox")?
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| "bbox must be four numbers: south,west,north,east".to_owned())?;
    let [south, west, north, east] = edges[..] else {
        return Err("bbox must be four numbers: south,west,north,east".into());
    };
    let bounds = MapBox::new(south, west, north, east).map_err(|e| format!("bbox: {e}"))?;
    let zoom: f64 = value("zoom")?
        .trim()
        .parse()
        .map_err(|_| "zoom must be a number".to_owned())?;
    if !zoom.is_finite() || !(0.0..=MAX_DRAWING_ZOOM).contains(&zoom) {
        return Err(format!("zoom must be between 0 and {MAX_DRAWING_ZOOM}"));
    }
    Ok(((bounds, [south, west, north, east]), zoom))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn a_box_and_a_zoom_are_read_and_anything_else_refused() {
        let ((_, edges), zoom) = parse("bbox=60.1,24.9,60.2,25.0&zoom=15").expect("good");
        assert_eq!(edges, [60.1, 24.9, 60.2, 25.0]);
        assert_eq!(zoom, 15.0);
        assert!(parse("bbox=60.1%2C24.9%2C60.2%2C25&zoom=12.5&x=1").is_ok());
        for bad in [
            "",
            "zoom=15",
            "bbox=60.1,24.9,60.2,25.0",
            "bbox=60.1,24.9,60.2&zoom=15",
            "bbox=60.1,24.9,60.2,25,1&zoom=15",
            "bbox=a,b,c,d&zoom=15",
            "bbox=60.2,24.9,60.1,25.0&zoom=15",
            "bbox=60.1,24.9,60.2,25.0&zoom=23",
            "bbox=60.1,24.9,60.2,25.0&zoom=-1",
            "bbox=60.1,24.9,60.2,25.0&zoom=NaN",
            "bbox=60.1,24.9,60.2,25.0&zoom=inf",
            "bbox=60.1,24.9,60.2,25.0&zoom=15&zoom=16",
            "bbox=%ZZ&zoom=1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse(&format!("bbox=1,2,3,4&zoom=1&pad={}", "x".repeat(300))).is_err());
    }
}
