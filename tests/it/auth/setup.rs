//! What the role tables start from: a service that verifies tokens around
//! a memory store the test can read, and a fleet with one ride matched.

use std::{sync::Arc, time::Duration};

use tracking::{
    auth::Role,
    domain::{Driver, Ride},
    store::memory::MemoryStore,
};

use crate::common::{
    id_of, north_of,
    tokens::{token, SECRET},
    TestApp, DRIVER, RIDER,
};

/// A service that verifies tokens, around a memory store the test can read.
pub(crate) async fn secured(
    tweak: impl FnOnce(&mut tracking::Config),
) -> (TestApp, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
    let app = TestApp::spawn_on(store.clone(), |c| {
        c.jwt_secret = Some(SECRET.into());
        tweak(c);
    })
    .await;
    (app, store)
}

/// Everything the store holds: every driver and every ride.
pub(crate) fn world(store: &MemoryStore) -> (Vec<Driver>, Vec<Arc<Ride>>) {
    store.contents(chrono::Utc::now())
}

/// A fleet where rider r1's ride is matched to driver d1, d2 and d3 are free.
pub(crate) async fn fleet(app: &TestApp) -> String {
    let ops = app.as_user(&token("ops", Role::Dispatcher));
    for (d, at) in [
        ("d1", DRIVER),
        ("d2", north_of(RIDER, 20.0)),
        ("d3", north_of(RIDER, 30.0)),
    ] {
        ops.update_location(d, at).await;
    }
    let id = id_of(&ops.request_driver("r1", RIDER).await);
    // Await the match: the search runs in the background.
    let found = ops.ride_reaches(&id, "DRIVER_FOUND").await;
    assert_eq!(found["driver"]["id"], "d1");
    id
}
