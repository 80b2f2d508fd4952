//! Metrics for Prometheus: names in one place, one recorder per process.
//!
//! Code records with the `metrics` macros and these names; `GET /metrics`
//! renders what the recorder holds, in Prometheus's text format.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// HTTP requests, by method, route and status.
pub const HTTP_REQUESTS: &str = "tracking_http_requests_total";
/// HTTP request latency, by method and route.
pub const HTTP_DURATION: &str = "tracking_http_request_duration_seconds";
/// GraphQL operations, by operation name and outcome (`ok`/`error`).
pub const GRAPHQL_OPERATIONS: &str = "tracking_graphql_operations_total";
/// Open connections of every kind (HTTP, WebSocket, streams).
pub const CONNECTIONS: &str = "tracking_connections";
/// The connection cap this instance computed at start.
pub const CONNECTIONS_MAX: &str = "tracking_connections_max";
/// Connections accepted past the cap (answered 503 unless a health check).
pub const CONNECTIONS_OVERFLOW: &str = "tracking_connections_overflow_total";
/// Open WebSocket connections.
pub const WS_CONNECTIONS: &str = "tracking_websocket_connections";
/// Active subscriptions.
pub const SUBSCRIPTIONS: &str = "tracking_subscriptions";
/// Live-map executions shared by several WebSocket subscribers.
pub const SHARED_SUBSCRIPTIONS: &str = "tracking_shared_subscriptions";
/// Open HTTP streams (multipart, Server-Sent Events), by transport.
pub const HTTP_STREAMS: &str = "tracking_http_streams";
/// Rides whose search task runs on this instance.
pub const RIDES_SEARCHING: &str = "tracking_rides_searching";
/// Rides requested through this instance.
pub const RIDES_REQUESTED: &str = "tracking_rides_requested_total";
/// Rides matched by this instance's search tasks.
pub const MATCHES: &str = "tracking_matches_total";
/// Rides expired by this instance's search tasks.
pub const EXPIRIES: &str = "tracking_expiries_total";
/// Rides cancelled through this instance.
pub const RIDES_CANCELLED: &str = "tracking_cancels_total";
/// Rides completed through this instance.
pub const RIDES_COMPLETED: &str = "tracking_completions_total";
/// Seconds from request to match.
pub const TIME_TO_MATCH: &str = "tracking_time_to_match_seconds";
/// The matched driver's time to the pickup, by `source` (roads,
/// straight_line): what riders wait once matched.
pub const PICKUP_ETA: &str = "tracking_pickup_eta_seconds";
/// Seconds to rank one search's candidates by driving time (with roads).
pub const RANKING: &str = "tracking_ranking_seconds";
/// Rides in each batch window, by `area` (an id from the areas file).
pub const BATCH_SIZE: &str = "tracking_batch_size";
/// Seconds to find candidates for and solve one batch window, by `area`.
pub const BATCH_SOLVE: &str = "tracking_batch_solve_seconds";
/// Rides a batch window left unmatched, by `area`.
pub const BATCH_UNMATCHED: &str = "tracking_batch_unmatched";
/// Rides matched greedily because their group passed `--max-batch-size`,
/// by `area`.
pub const BATCH_OVERFLOW: &str = "tracking_batch_overflow_total";
/// Offers ended, by `outcome` (accepted, declined, timed_out, withdrawn),
/// counted by the instance whose store call ended them.
pub const OFFERS: &str = "tracking_offers_total";
/// Seconds drivers took to answer an offer (accepted or declined).
pub const OFFER_ANSWER: &str = "tracking_offer_answer_seconds";
/// Times a Redis store was found to have lost its data (its ride epoch
/// changed): each makes every live stream re-read what it shows.
pub const STORE_DATA_LOST: &str = "tracking_store_data_lost_total";
/// Area snapshots read from the store for live maps (one read serves
/// every map of that area asking at the same time).
pub const AREA_SNAPSHOTS: &str = "tracking_area_snapshots_total";
/// Calls that wrote gathered single reports (group commit on Redis), and
/// the reports they carried: reports per call is the one over the other.
pub const REPORT_CALLS: &str = "tracking_report_calls_total";
pub const REPORTS_GROUPED: &str = "tracking_reports_grouped_total";
/// Reports from phone apps over HTTP, by protocol (`owntracks`, `osmand`)
/// and what became of them (`accepted`, `stale`, `refused`: the speed rule
/// said no, acknowledged so the app does not send it again).
pub const DEVICE_REPORTS: &str = "tracking_device_reports_total";
/// MQTT messages the OwnTracks ingest took, by `outcome` (accepted, stale,
/// refused, rate_limited, unknown_device, malformed, too_large, ignored,
/// failed: fixed values, never a topic).
pub const MQTT_MESSAGES: &str = "tracking_mqtt_messages_total";
/// 1 while the MQTT ingest is connected to its broker and subscribed, else 0.
pub const MQTT_CONNECTED: &str = "tracking_mqtt_connected";
/// Store operations that failed (Redis unreachable, timeouts).
pub const STORE_ERRORS: &str = "tracking_store_errors_total";
/// Events a sink took, by sink and area (both from the configuration).
pub const EVENTS_DELIVERED: &str = "tracking_events_delivered_total";
/// Batches a sink refused or did not answer (each try), by sink and area.
pub const EVENT_DELIVERY_FAILURES: &str = "tracking_event_delivery_failures_total";
/// Events a sink refused past its max age, moved to the dead letters, by
/// sink and area.
pub const EVENTS_DEAD_LETTERED: &str = "tracking_events_dead_lettered_total";
/// Age of the oldest event a sink has not taken (0 when caught up), by sink
/// and area, as the lane's lease holder sees it (others say 0).
pub const EVENT_LAG: &str = "tracking_event_lag_seconds";
/// Times a sink's acknowledged position was no longer in the log (trimmed,
/// or the store lost its data): delivery went on from the oldest kept.
pub const EVENT_DELIVERY_GAPS: &str = "tracking_event_delivery_gaps_total";
/// Events trimmed from an area's log once every sink had them, by area.
pub const EVENTS_TRIMMED: &str = "tracking_events_trimmed_total";
/// Events trimmed past `--max-events` before every sink had them (moved to
/// the dead letters of the sinks that lacked them), by area.
pub const EVENTS_OVERFLOWED: &str = "tracking_events_overflowed_total";
/// Dead letters dropped past `--max-dead-letters`, by area.
pub const EVENT_DEAD_LETTERS_DROPPED: &str = "tracking_event_dead_letters_dropped_total";

/// Counts a ride matched (by its search or a batch window): the match, the
/// wait from request to match (both on the store's clock) and the driver's
/// time to the pickup by how it was made (two fixed label values).
pub fn ride_matched(ride: &crate::domain::Ride) {
    metrics::counter!(MATCHES).increment(1);
    let waited = ride.matched_at.unwrap_or(ride.created_at) - ride.created_at;
    let waited = waited.to_std().unwrap_or_default().as_secs_f64();
    metrics::histogram!(TIME_TO_MATCH).record(waited);
    if let Some(eta) = ride.pickup_eta {
        metrics::histogram!(PICKUP_ETA, "source" => eta.source.label())
            .record(f64::from(eta.seconds));
    }
}

/// Counts an offer that ended (the label is one of four fixed values).
pub fn offer_ended(reason: crate::domain::OfferEndReason) {
    metrics::counter!(OFFERS, "outcome" => reason.label()).increment(1);
}

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (once per process) and returns its handle; `None`
/// when another recorder was installed first.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(TIME_TO_MATCH.into()),
                    &[
                        0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 240.0,
                    ],
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(OFFER_ANSWER.into()),
                        &[0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0, 20.0, 30.0],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(PICKUP_ETA.into()),
                        &[
                            30.0, 60.0, 120.0, 180.0, 300.0, 450.0, 600.0, 900.0, 1200.0, 1800.0,
                        ],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(BATCH_SOLVE.into()),
                        &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(BATCH_SIZE.into()),
                        &[0.0, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(BATCH_UNMATCHED.into()),
                        &[0.0, 1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(RANKING.into()),
                        &[
                            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1,
                        ],
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(HTTP_DURATION.into()),
                        &[
                            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5,
                        ],
                    )
                })
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}
