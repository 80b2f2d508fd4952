//! Traces exported: one trace from a request's `traceparent` to the store call, an offer's answer as one store call, the `OTEL_*` variables.

use super::*;

/// One trace goes from the caller's `traceparent` through the HTTP request,
/// the resolver and the dispatcher into the background search and the
/// store calls it makes, every parent link intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_from_the_request_to_the_store_call() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let service = ServiceProcess::launch_with(command(), &["--otlp-endpoint", endpoint.as_str()]);
    let client = Client::new(service.addr, None);
    client.update_location("d1", DRIVER).await;
    let ride = request_with_traceparent(&client, &format!("00-{TRACE_ID}-{PARENT_SPAN}-01")).await;
    client.ride_reaches(&ride, "DRIVER_FOUND").await;

    // The search task's span ends when the ride is matched; the trace is
    // whole once the store call inside its round has arrived too.
    let trace = eventually("the search and its store call to be exported", || {
        let spans: Vec<Received> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id() == TRACE_ID)
            .collect();
        let done = ["ride", "dispatch.search", "store.try_match", "request"]
            .iter()
            .all(|name| spans.iter().any(|s| s.span.name == *name));
        std::future::ready(done.then_some(spans))
    })
    .await;

    let request = named(&trace, "request");
    assert_eq!(
        request.parent(),
        PARENT_SPAN,
        "the caller's span is the parent"
    );
    assert_eq!(request.service, "tracking", "the default service name");
    let resolver = named(&trace, "Mutation.requestDriver");
    assert_eq!(
        resolver.parent(),
        request.id(),
        "resolver under the request"
    );
    assert_eq!(
        resolver.attribute("operation").as_deref(),
        Some("RequestRide")
    );
    let dispatch = named(&trace, "request_driver");
    assert_eq!(
        dispatch.parent(),
        resolver.id(),
        "dispatch under the resolver"
    );
    assert_eq!(dispatch.attribute("rider").as_deref(), Some("r1"));
    let created = named(&trace, "store.create_ride");
    assert_eq!(
        created.parent(),
        dispatch.id(),
        "store call under the dispatch step"
    );
    let search = named(&trace, "ride");
    assert_eq!(
        search.parent(),
        dispatch.id(),
        "the search under the request's dispatch step"
    );
    assert_eq!(search.attribute("ride_id").as_deref(), Some(ride.as_str()));
    let round = trace
        .iter()
        .find(|s| s.span.name == "dispatch.search" && s.parent() == search.id())
        .expect("a search round under the search");
    let store_call = trace
        .iter()
        .find(|s| s.span.name == "store.try_match" && s.parent() == round.id())
        .expect("the round's store call under it");
    assert_eq!(store_call.attribute("ride").as_deref(), Some(ride.as_str()));

    // No secret and no position rides along: only ids and names.
    let attributes: HashMap<String, usize> = trace
        .iter()
        .flat_map(|s| s.span.attributes.iter().map(|kv| kv.key.clone()))
        .fold(HashMap::new(), |mut seen, key| {
            *seen.entry(key).or_default() += 1;
            seen
        });
    for forbidden in ["lat", "lng", "token", "authorization", "at", "center"] {
        assert!(
            !attributes.contains_key(forbidden),
            "{forbidden} in {attributes:?}"
        );
    }
    service.kill();
}

/// An offer's answer is one store call: the store's atomic step says
/// whether the ride and its offer exist and when the offer was made, so
/// the dispatcher reads nothing before it (it used to read the ride first:
/// one Redis round trip more per answer). Seen in the trace: under the
/// `answer_offer` step, `store.answer_offer` is the only store span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_answer_is_one_store_call() {
    const ANSWER_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let service = ServiceProcess::launch_with(
        command(),
        &[
            "--otlp-endpoint",
            endpoint.as_str(),
            "--offer-timeout",
            "60s",
        ],
    );
    let client = Client::new(service.addr, None);
    client.update_location("d1", DRIVER).await;
    let ride = request_with_traceparent(&client, &format!("00-{TRACE_ID}-{PARENT_SPAN}-01")).await;
    // Offered: the driver is held (the ride itself stays SEARCHING).
    eventually("the driver to be offered the ride", || async {
        (client.driver("d1").await["status"] == "OFFERED").then_some(())
    })
    .await;

    let response = client
        .http()
        .post(client.url("/graphql"))
        .header("traceparent", format!("00-{ANSWER_TRACE}-{PARENT_SPAN}-01"))
        .json(&json!({
            "query": "mutation($id: ID!) { acceptOffer(rideId: $id) { id status } }",
            "variables": {"id": ride},
        }))
        .timeout(PATIENCE)
        .send()
        .await
        .expect("POST /graphql");
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(
        body["data"]["acceptOffer"]["status"], "DRIVER_FOUND",
        "{body}"
    );

    // The request's span ends last: once it is here, the answer's are too.
    let trace = eventually("the answer's request span to be exported", || {
        let spans: Vec<Received> = receiver
            .spans()
            .into_iter()
            .filter(|s| s.trace_id() == ANSWER_TRACE)
            .collect();
        let done = spans.iter().any(|s| s.span.name == "request");
        std::future::ready(done.then_some(spans))
    })
    .await;
    let step = named(&trace, "answer_offer");
    let store_calls: Vec<&str> = trace
        .iter()
        .filter(|s| s.span.name.starts_with("store.") && s.parent() == step.id())
        .map(|s| s.span.name.as_str())
        .collect();
    assert_eq!(
        store_calls,
        ["store.answer_offer"],
        "the answer's store calls"
    );
    service.kill();
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` alone turns export on and
/// `OTEL_SERVICE_NAME` names the service; `OTEL_TRACES_SAMPLER=always_off`
/// exports nothing, even for a caller's sampled trace (checked after the
/// process has flushed and exited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_otel_variables_name_the_service_and_choose_the_sampler() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();

    let mut named_command = command();
    named_command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_SERVICE_NAME", "dispatch-eu");
    let on = ServiceProcess::launch_with(named_command, &[]);
    let on_client = Client::new(on.addr, None);
    request_with_traceparent(&on_client, &format!("00-{TRACE_ID}-{PARENT_SPAN}-01")).await;
    eventually("the named service's request span", || {
        let seen = receiver
            .spans()
            .iter()
            .any(|s| s.service == "dispatch-eu" && s.span.name == "request");
        std::future::ready(seen.then_some(()))
    })
    .await;

    let mut off_command = command();
    off_command
        .env("OTEL_SERVICE_NAME", "sampled-off")
        .env("OTEL_TRACES_SAMPLER", "always_off");
    let mut off = ServiceProcess::launch_with(off_command, &["--otlp-endpoint", &endpoint]);
    let off_client = Client::new(off.addr, None);
    off_client.update_location("d2", DRIVER).await;
    request_with_traceparent(
        &off_client,
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    .await;
    // A graceful stop sends whatever is queued before the process exits.
    off.terminate();
    let status = off.wait(PATIENCE).expect("the service stops on SIGTERM");
    assert!(status.success(), "clean exit: {status:?}");
    let leaked: Vec<String> = receiver
        .spans()
        .iter()
        .filter(|s| s.service == "sampled-off")
        .map(|s| s.span.name.clone())
        .collect();
    assert!(leaked.is_empty(), "always_off exported {leaked:?}");
    on.kill();
}
