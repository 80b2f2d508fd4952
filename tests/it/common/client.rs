//! The client every test talks through: GraphQL over HTTP and WebSocket,
//! with a bearer token or none, and the operations the scenarios use.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::{
    eventually,
    values::{error_code_of, RIDE_FIELDS, RIDE_STATUS},
    within,
    ws::{self, Protocol, Subscription},
    PATIENCE,
};

/// Talks to a service over HTTP and WebSocket, with a bearer token or
/// none: `tracking-client`, with the answers as JSON for the assertions.
#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub token: Option<String>,
    pub api: tracking_client::Client,
}

impl Client {
    pub fn new(addr: SocketAddr, token: Option<String>) -> Self {
        let api = tracking_client::Client::new(format!("http://{addr}")).expect("an HTTP client");
        let api = match &token {
            Some(token) => api.with_token(token.clone()),
            None => api,
        };
        Self { addr, token, api }
    }

    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    /// The HTTP client underneath.
    pub fn http(&self) -> &reqwest::Client {
        self.api.http()
    }

    /// Posts a GraphQL request; returns the whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let (status, body) = within(
            PATIENCE,
            "a GraphQL response",
            self.api.execute(query, variables),
        )
        .await
        .expect("POST /graphql");
        assert_eq!(status, 200, "POST /graphql status: {body}");
        body
    }

    /// Posts a GraphQL request with a bearer token (or none); returns the
    /// HTTP status and the body.
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let api = tracking_client::Client::with_http(self.api.base(), self.http().clone());
        let api = match token {
            Some(token) => api.with_token(token),
            None => api,
        };
        within(
            PATIENCE,
            "a GraphQL response",
            api.execute(query, variables),
        )
        .await
        .expect("POST /graphql")
    }

    /// Posts a GraphQL request that must succeed; returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Posts a GraphQL request that must fail; returns its first error's code.
    pub async fn error_code(&self, query: &str, variables: Value) -> String {
        let body = self.gql(query, variables).await;
        error_code_of(&body)
    }

    /// Posts raw text to a path (with this client's token); returns status
    /// and body (JSON when it parses).
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let (status, bytes) = within(
            PATIENCE,
            "an HTTP response",
            self.api.post_raw(path, body.to_owned()),
        )
        .await
        .expect("POST");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Sends a request with exactly these headers (and this client's token,
    /// if any); the status, the headers and the body (JSON when it parses).
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self.http().request(method, self.url(path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body.to_owned());
        }
        let response = within(PATIENCE, "an HTTP response", request.send())
            .await
            .expect("HTTP");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }

    /// `GET` a path; status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = within(
            PATIENCE,
            "an HTTP response",
            self.http().get(self.url(path)).send(),
        )
        .await
        .expect("GET");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// The `connection_init` payload carrying this client's token.
    pub fn init_payload(&self) -> Value {
        match &self.token {
            Some(token) => json!({"authorization": format!("Bearer {token}")}),
            None => json!({}),
        }
    }

    /// Opens a WebSocket on `/ws` and starts one subscription.
    pub async fn subscribe(
        &self,
        protocol: Protocol,
        query: &str,
        variables: Value,
    ) -> Subscription {
        Subscription::start_with_init(self.addr, protocol, self.init_payload(), query, variables)
            .await
    }

    /// Subscribes to `rideStatus` for one ride.
    pub async fn watch_ride(&self, protocol: Protocol, id: &str) -> Subscription {
        self.subscribe(protocol, RIDE_STATUS, json!({"id": id}))
            .await
    }

    // The operations the scenarios use, spelled once.

    pub async fn update_location(&self, driver: &str, (lat, lng): (f64, f64)) -> Value {
        self.data(
            "mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id status location { lat lng } updatedAt } }",
            json!({"d": driver, "lat": lat, "lng": lng}),
        )
        .await["updateLocation"]
            .clone()
    }

    pub async fn request_driver(&self, rider: &str, (lat, lng): (f64, f64)) -> Value {
        self.data(
            &format!("mutation($r: ID!, $lat: Float!, $lng: Float!) {{ requestDriver(riderId: $r, lat: $lat, lng: $lng) {{ {RIDE_FIELDS} }} }}"),
            json!({"r": rider, "lat": lat, "lng": lng}),
        )
        .await["requestDriver"]
            .clone()
    }

    pub async fn ride(&self, id: &str) -> Value {
        self.data(
            &format!("query($id: ID!) {{ ride(id: $id) {{ {RIDE_FIELDS} }} }}"),
            json!({"id": id}),
        )
        .await["ride"]
            .clone()
    }

    pub async fn driver(&self, id: &str) -> Value {
        self.data(
            "query($id: ID!) { driver(id: $id) { id status location { lat lng } updatedAt rideId } }",
            json!({"id": id}),
        )
        .await["driver"]
            .clone()
    }

    /// `cancelRequest`; returns the whole response (it may be an error).
    pub async fn cancel(&self, ride: &str) -> Value {
        self.gql(
            &format!("mutation($id: ID!) {{ cancelRequest(rideId: $id) {{ {RIDE_FIELDS} }} }}"),
            json!({"id": ride}),
        )
        .await
    }

    /// `completeRide`; returns the whole response (it may be an error).
    pub async fn complete(&self, ride: &str) -> Value {
        self.gql(
            &format!("mutation($id: ID!) {{ completeRide(rideId: $id) {{ {RIDE_FIELDS} }} }}"),
            json!({"id": ride}),
        )
        .await
    }

    /// `goOffline`; returns the whole response (it may be an error).
    pub async fn go_offline(&self, driver: &str) -> Value {
        self.gql(
            "mutation($id: ID!) { goOffline(driverId: $id) { id status } }",
            json!({"id": driver}),
        )
        .await
    }

    /// `nearbyDrivers`: the ids found, nearest first, with distances.
    pub async fn nearby(
        &self,
        (lat, lng): (f64, f64),
        radius_km: f64,
        limit: i64,
    ) -> Vec<(String, f64)> {
        let data = self
            .data(
                "query($lat: Float!, $lng: Float!, $r: Float, $n: Int) { nearbyDrivers(lat: $lat, lng: $lng, radiusKm: $r, limit: $n) { distanceKm driver { id status } } }",
                json!({"lat": lat, "lng": lng, "r": radius_km, "n": limit}),
            )
            .await;
        data["nearbyDrivers"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|n| {
                assert_eq!(n["driver"]["status"], "AVAILABLE", "listed: {n}");
                (
                    n["driver"]["id"].as_str().expect("id").to_owned(),
                    n["distanceKm"].as_f64().expect("distance"),
                )
            })
            .collect()
    }

    /// Waits until a ride has the given status, following it over
    /// `rideStatus` (the snapshot comes first, so a status reached before
    /// the call counts too); returns the ride as it was then.
    pub async fn ride_reaches(&self, id: &str, status: &str) -> Value {
        within(
            PATIENCE,
            &format!("ride {id} to become {status}"),
            self.ride_reaches_any(id, &[status]),
        )
        .await
    }

    /// Waits until a ride has one of `statuses` (as [`Client::ride_reaches`],
    /// for as long as the caller lets it); returns it then.
    pub async fn ride_reaches_any(&self, id: &str, statuses: &[&str]) -> Value {
        let mut sub = self.watch_ride(Protocol::TransportWs, id).await;
        loop {
            match sub.next_event().await {
                ws::Event::Next(payload) => {
                    assert!(payload.get("errors").is_none(), "ride {id}: {payload}");
                    let ride = payload["data"]["rideStatus"].clone();
                    if statuses.iter().any(|s| ride["status"] == *s) {
                        return ride;
                    }
                }
                other => panic!("ride {id} ended without reaching {statuses:?}: {other:?}"),
            }
        }
    }

    /// Waits until the ride's search task has searched at least once (a
    /// search that finds nobody changes no status, so nothing is pushed:
    /// this polls), and returns the ride then. Checks that a ride is *not*
    /// matched must come after this, or a wrong match landing after the
    /// check would pass unseen.
    pub async fn searched(&self, id: &str) -> Value {
        eventually(&format!("ride {id} to have searched"), || async {
            let ride = self.ride(id).await;
            (ride["searches"].as_i64().unwrap_or(0) >= 1).then_some(ride)
        })
        .await
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        let (status, text) = self.get("/metrics").await;
        assert_eq!(status, 200, "GET /metrics");
        text
    }
}
