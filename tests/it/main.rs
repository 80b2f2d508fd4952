//! The integration suite: one binary, real servers, real clients.
//!
//! Where each behaviour is tested, one module per concept (a scenario run on
//! every store is `<module>::{memory,redis,cluster}::<name>`):
//!
//! - `fleet`: drivers' reports and statuses, nearby drivers, going offline, batches, report rules.
//! - `rides`: a ride from request to end: search and match, expiry, cancel, complete, trip phases, a rider's cap and keys.
//! - `offers`: offers to drivers: accepted, declined, timed out, withdrawn, counted, across instances.
//! - `live`: subscriptions: `rideStatus`, `driverLocation`, `driverFeed`, live maps, and maps under pressure.
//! - `transports`: WebSocket, GraphQL over HTTP, multipart and SSE streams, persisted documents, REST, the typed client.
//! - `devices`: phone apps as drivers: OwnTracks over HTTP (Basic or a token), Traccar Client's `/osmand`, late messages, the credentials reloaded on SIGHUP, failed attempts limited.
//! - `auth`: roles, tokens (expiry, JWKS, edges), rights lost mid-stream, introspection, cross-site and CORS.
//! - `limits`: bad input, request size and work, the update rate, WebSocket and connection bounds, retention, fuzzing.
//! - `instances`: several instances sharing one Redis, and a Redis Cluster with areas on different nodes.
//! - `faults`: Redis and instances failing (dead, hung, emptied, killed, skewed), bounded chaos, and what holds after.
//! - `events`: events out: webhooks get every ride's events in order, signed; outages, a hung receiver, dead letters, start errors.
//! - `mqtt`: OwnTracks over MQTT against a real `mosquitto`: the driver appears, late messages STALE, garbage counted and dropped, two instances sharing the subscription, a broker restarted, `mqtts://`, bad flags.
//! - `nats_sink`: the NATS JetStream sink against a real `nats-server -js`: each event once on its subject with its `Nats-Msg-Id`, retries not stored twice, a server killed and restarted, the start-up stream check.
//! - `batches`: batched matching (`--match-window`): a window's optimum, fairness, declines, the batching instance killed.
//! - `areas`: service areas: rides and drivers inside them, their borders, and an areas file that stops the start.
//! - `ops`: metrics, health and the dashboard, Redis deployments (prefix, TLS), migrating the key layout, the simulator.
//! - `replay`: an area's event log read back (`events`): what followed an id, by type and page, not recovered when trimmed or of another epoch; followed live; dispatchers only; dead letters redelivered.
//! - `schema`: the checked-in SDL is the schema the code serves, and it documents itself.
//! - `readme`: the README's examples, run as a reader would.
//! - `roads`: dispatch by road time (river, one-way, `maxPickupEta`, off the network, offers), the rider's live ETA and route, roads per area, two instances, Helsinki.
//! - `traces`: OTLP traces: one trace from a request's `traceparent` to the store call, an offer answer as one store call, the `OTEL_*` variables; no token, secret or position in spans or logs.
//! - `common`: the shared setup (services, clients, tokens, keys, areas files, instances); no tests.

// A test that meets the unexpected should fail loudly, right there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod areas;
mod attacks_reports;
mod auth;
mod batches;
mod common;
mod deliveries;
mod devices;
mod event_log;
mod events;
mod faults;
mod fleet;
mod instances;
mod limits;
mod live;
mod mqtt;
mod nats_sink;
mod offers;
mod ops;
mod readme;
mod replay;
mod reports;
mod rides;
mod roads;
mod schema;
mod traces;
mod transports;
