//! The Redis stream as an interface: a consumer reads an area's log with
//! its own consumer group, and a store that lost its data starts a new
//! epoch, so no id is ever handed out twice and an old id says so.

use std::collections::HashMap;

use tracking::domain::EventType;

use super::harness::{open_on, PICKUP};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_group_reads_the_documented_stream() {
    let redis = crate::common::RedisServer::start().await;
    let h = open_on(&redis).await;
    h.report("d1", PICKUP.0, PICKUP.1).await;
    let ride = h.request("r1").await;
    let logged = h.all().await;
    let client = redis::Client::open(redis.url()).expect("a client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("{tracking}:log")
        .arg("billing")
        .arg("0")
        .query_async(&mut conn)
        .await
        .expect("a consumer group on the area's stream");
    type Reply = Vec<(String, Vec<(String, Vec<String>)>)>;
    let reply: Reply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("billing")
        .arg("c1")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg("{tracking}:log")
        .arg(">")
        .query_async(&mut conn)
        .await
        .expect("XREADGROUP");
    let entries = &reply[0].1;
    assert_eq!(entries.len(), logged.len());
    for ((position, fields), event) in entries.iter().zip(&logged) {
        assert_eq!(
            position,
            &event.id.seq.to_string(),
            "the id's last part is the stream id"
        );
        let f: HashMap<&str, &str> = fields
            .chunks_exact(2)
            .map(|kv| (kv[0].as_str(), kv[1].as_str()))
            .collect();
        assert_eq!(f.get("v"), Some(&"1"), "the format's version");
        assert_eq!(f.get("type"), Some(&event.kind.as_str()));
        assert_eq!(
            f.get("at"),
            Some(&event.at.timestamp_millis().to_string().as_str())
        );
        if event.kind == EventType::RideRequested {
            let r: HashMap<String, String> =
                serde_json::from_str(f.get("ride").expect("the ride")).expect("JSON");
            assert_eq!(r.get("id"), Some(&ride.to_string()));
            assert_eq!(r.get("status").map(String::as_str), Some("SEARCHING"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_lost_its_data_starts_a_new_epoch() {
    let redis = crate::common::RedisServer::start().await;
    let h = open_on(&redis).await;
    h.report("d1", PICKUP.0, PICKUP.1).await;
    let before = h.all().await;
    let last = before.last().expect("an event").id.clone();
    let client = redis::Client::open(redis.url()).expect("a client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let () = redis::cmd("FLUSHALL")
        .query_async(&mut conn)
        .await
        .expect("FLUSHALL");
    h.report("d2", PICKUP.0, PICKUP.1).await;
    let after = h.all().await;
    assert_eq!(after.len(), 1);
    assert_ne!(
        after[0].id.epoch, last.epoch,
        "a new epoch: no id is reused"
    );
    let page = h
        .store
        .read_events(&h.area, Some(&last), 100)
        .await
        .expect("a read");
    assert!(
        !page.recovered,
        "an id of the lost epoch says events were missed"
    );
    assert_eq!(page.events, after, "from the oldest kept");
}
