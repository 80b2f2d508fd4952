//! Requests a ride and follows it until it ends.
//!
//! ```sh
//! cargo run -p tracking-client --example follow_a_ride -- http://127.0.0.1:8000
//! ```

#[tokio::main]
async fn main() -> Result<(), tracking_client::Error> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let mut client = tracking_client::Client::new(base)?;
    if let Ok(token) = std::env::var("TRACKING_TOKEN") {
        client = client.with_token(token);
    }
    client
        .update_location("example-driver", -33.44091, -70.6301)
        .await?;
    let ride = client
        .request_driver("example-rider", -33.44262, -70.63054)
        .await?;
    println!("requested {}", ride.id);
    let mut updates = client.ride_status(&ride.id).await?;
    while let Some(ride) = updates.next().await? {
        let driver = ride.driver.as_ref().map(|d| d.id.as_str()).unwrap_or("-");
        println!("{:?}, driver {driver}", ride.status);
        if ride.status == tracking_client::RideStatus::DriverFound {
            client.complete_ride(&ride.id).await?;
        }
    }
    Ok(())
}
