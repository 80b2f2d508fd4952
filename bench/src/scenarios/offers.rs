//! The driver's side: 1,000 rides wait with nobody near, with offers on;
//! drivers then appear one by one, each following its own `driverFeed`.
//!
//! - `time-to-offer`: from sending the driver's `updateLocation` to the
//!   OFFER arriving on its feed (a 30 s search interval: only a wake-up
//!   explains a quick offer). Reference: the seed's 30 s tick, measured in
//!   this run (time-to-match's model: the seed had no offers, so finding a
//!   driver is the nearest thing it did).
//! - `accept-to-found`: from sending `acceptOffer` to the rider's
//!   DRIVER_FOUND arriving on its `rideStatus`. Reference: the floor of any
//!   event path through Redis, measured in this run: a `PUBLISH` from one
//!   connection to a message on another.
//!
//! Clocks start when the request is sent, never at its response: an event
//! may beat the response, and how many did is reported.

use std::time::{Duration, Instant};

use futures_util::{future::join_all, StreamExt};
use serde_json::json;
use tokio::sync::{oneshot, OnceCell, Semaphore};

use super::{mib, request_rides, service, time_to_match, RIDE_STATUS};
use crate::{
    client::{gql, next_data, subscribe},
    error::{BenchError, Result},
    procs::Redis,
    report::{percentile, Row},
    StoreKind,
};

const RIDES: usize = 1000;
const FEED: &str = "subscription($d: ID!) { driverFeed(driverId: $d) { kind } }";
const ACCEPT: &str = "mutation($id: ID!) { acceptOffer(rideId: $id) { status } }";
const FLAGS: &[&str] = &[
    "--offer-timeout",
    "60s",
    "--search-interval",
    "30s",
    "--request-timeout",
    "10m",
];

/// The pub/sub floor, measured once per run.
static FLOOR: OnceCell<String> = OnceCell::const_new();

/// What one pass measured, in ms.
struct Measured {
    latencies: Vec<f64>,
    before_response: usize,
}

impl Measured {
    fn new() -> Self {
        Self {
            latencies: Vec::with_capacity(RIDES),
            before_response: 0,
        }
    }

    fn note(&mut self, sent: Instant, answered: Instant, arrived: Instant) {
        if arrived < answered {
            self.before_response += 1;
        }
        self.latencies
            .push(arrived.duration_since(sent).as_secs_f64() * 1000.0);
    }

    fn p(&mut self, q: f64) -> f64 {
        self.latencies.sort_by(f64::total_cmp);
        percentile(&self.latencies, q)
    }
}

/// Waits on a subscription for the first result whose `field.kind` or
/// `field.status` is `want`; sends when it arrived.
fn arrival(
    mut subscription: tracking_client::Subscription,
    field: &'static str,
    key: &'static str,
    want: &'static str,
) -> oneshot::Receiver<(Instant, tracking_client::Subscription)> {
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        while let Ok(data) = next_data(&mut subscription).await {
            if data[field][key] == want {
                let _ = tx.send((Instant::now(), subscription));
                return;
            }
        }
    });
    rx
}

async fn within<T>(what: String, rx: oneshot::Receiver<T>) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(35), rx)
        .await
        .map_err(|_| BenchError::Unexpected(format!("{what} did not arrive")))?
        .map_err(|_| BenchError::Unexpected(format!("{what}: the socket closed")))
}

pub async fn run(store: StoreKind, redis: &Redis) -> Result<Vec<Row>> {
    let seed = time_to_match::seed_reference(redis).await?;
    let floor = FLOOR.get_or_try_init(|| pubsub_floor(redis)).await?.clone();
    let svc = service(store, redis, FLAGS).await?;
    let http = reqwest::Client::new();
    let ids = request_rides(&svc.url, "o", RIDES, 1, time_to_match::place).await?;
    // Each driver's feed (a STATE first: OFFLINE, it has not reported) and
    // each rider's rideStatus (SEARCHING first), open before anything moves.
    let limit = Semaphore::new(64);
    let sockets = join_all(ids.iter().enumerate().map(|(i, id)| {
        let (limit, ws) = (&limit, svc.ws_url.clone());
        async move {
            let _permit = limit.acquire().await;
            let feed = subscribe(&ws, FEED, json!({"d": format!("m{i}")})).await?;
            let ride = subscribe(&ws, RIDE_STATUS, json!({"id": id})).await?;
            Ok::<_, BenchError>((feed, ride))
        }
    }))
    .await;
    let before = svc.stats();
    let (mut offers, mut accepts) = (Measured::new(), Measured::new());
    for (i, pair) in sockets.into_iter().enumerate() {
        let (feed, ride) = pair?;
        let offered = arrival(feed, "driverFeed", "kind", "OFFER");
        let (sent, answered) = time_to_match::driver_appears(&http, &svc.url, i).await?;
        let (arrived, _feed) = within(format!("ride {i}'s offer"), offered).await?;
        offers.note(sent, answered, arrived);

        let found = arrival(ride, "rideStatus", "status", "DRIVER_FOUND");
        let sent = Instant::now();
        gql(&http, &svc.url, ACCEPT, json!({"id": ids[i]})).await?;
        let answered = Instant::now();
        let (arrived, _ride) = within(format!("ride {i}'s DRIVER_FOUND"), found).await?;
        accepts.note(sent, answered, arrived);
    }
    let after = svc.stats();
    let (cpu_secs, peak_rss_mib) = (after.cpu_secs - before.cpu_secs, mib(after.peak_rss_kib));
    let (o50, o99) = (offers.p(50.0), offers.p(99.0));
    let (a50, a99) = (accepts.p(50.0), accepts.p(99.0));
    let max = |m: &Measured| m.latencies.last().copied().unwrap_or(f64::NAN);
    Ok(vec![
        Row {
            scenario: "time-to-offer",
            store,
            flags: svc.flags.clone(),
            measured: format!(
                "from the driver's updateLocation sent to the OFFER on its driverFeed: p50 {o50:.2} ms, p99 {o99:.2} ms, max {:.2} ms; {} of {RIDES} offers arrived before their request's response",
                max(&offers),
                offers.before_response
            ),
            reference: seed,
            result: format!("p50 {o50:.2} ms, p99 {o99:.2} ms"),
            target: "p50 ≤ 5 ms, p99 ≤ 25 ms".into(),
            met: Some(o50 <= 5.0 && o99 <= 25.0),
            cpu_secs,
            peak_rss_mib,
        },
        Row {
            scenario: "accept-to-found",
            store,
            flags: svc.flags.clone(),
            measured: format!(
                "from acceptOffer sent to the rider's DRIVER_FOUND on rideStatus: p50 {a50:.2} ms, p99 {a99:.2} ms, max {:.2} ms; {} of {RIDES} arrived before the response",
                max(&accepts),
                accepts.before_response
            ),
            reference: floor,
            result: format!("p99 {a99:.2} ms"),
            target: "p99 ≤ 10 ms".into(),
            met: Some(a99 <= 10.0),
            cpu_secs,
            peak_rss_mib,
        },
    ])
}

/// A `PUBLISH` on one connection to its message on a subscribed one, 1,000
/// times: the least any event through Redis can take here.
async fn pubsub_floor(redis: &Redis) -> Result<String> {
    let client = redis::Client::open(redis.url())?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe("bench:floor").await?;
    let mut messages = pubsub.into_on_message();
    let mut conn = redis.connection().await?;
    let mut latencies = Vec::with_capacity(RIDES);
    for i in 0..RIDES {
        let sent = Instant::now();
        let _: () = redis::cmd("PUBLISH")
            .arg("bench:floor")
            .arg(i)
            .query_async(&mut conn)
            .await?;
        tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .map_err(|_| BenchError::Unexpected("a PUBLISH never arrived".into()))?;
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    Ok(format!(
        "Redis PUBLISH to a subscriber, measured here: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0)
    ))
}
