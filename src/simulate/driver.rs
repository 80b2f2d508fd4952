//! One simulated driver: it reports its position every `--report-every`,
//! follows its own `driverFeed`, answers offers like a person (a pause,
//! then yes, no, or nothing), and drives each ride it gets from pickup to
//! dropoff through the trip's steps.

use std::time::Duration;

use rand::Rng;
use tokio::{
    sync::mpsc,
    time::{interval, sleep, sleep_until, Instant, MissedTickBehavior},
};
use tokio_util::task::AbortOnDropHandle;
use tracking_client::{DriverStatus, FeedEvent, FeedKind, Ride, RideStatus};

use super::{
    api::Api,
    args::SimulateArgs,
    region::{heading_to, step, Region},
};
use crate::domain::Coordinates;

/// What the driver is doing.
#[derive(Debug, Clone)]
enum Plan {
    /// Free: roaming at random.
    Roam,
    /// Assigned: driving to the pickup.
    ToPickup(Trip),
    /// At the pickup, until the rider has boarded.
    Boarding(Trip, Instant),
    /// On the trip to the dropoff.
    ToDropoff(Trip),
}

#[derive(Debug, Clone)]
struct Trip {
    ride: String,
    pickup: Coordinates,
    dropoff: Coordinates,
}

/// An answer the driver will give when its pause is over.
struct Answer {
    ride: String,
    at: Instant,
    accept: bool,
}

fn point(location: &tracking_client::Location) -> Option<Coordinates> {
    Coordinates::parse(location.lat, location.lng).ok()
}

/// Follows the driver's feed for as long as the driver drives, reconnecting
/// after a pause when it drops.
fn follow_feed(api: Api, id: String, events: mpsc::Sender<FeedEvent>) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(async move {
        loop {
            match api.client.driver_feed(&id).await {
                Ok(mut feed) => loop {
                    match feed.next().await {
                        Ok(Some(event)) => {
                            if events.send(event).await.is_err() {
                                return;
                            }
                        }
                        Ok(None) => break,
                        Err(error) => {
                            api.counted::<()>(Err(error));
                            break;
                        }
                    }
                },
                Err(error) => {
                    api.counted::<()>(Err(error));
                }
            }
            sleep(Duration::from_secs(1)).await;
        }
    }))
}

pub(super) async fn drive(api: Api, args: SimulateArgs, region: Region, index: usize) {
    let id = format!("sim-{index}");
    let mut at = region.random_point();
    let mut heading = rand::rng().random_range(0.0..std::f64::consts::TAU);
    let km_per_report = args.speed_kmh * args.report_every.as_secs_f64() / 3600.0;
    // Spread the first reports over one interval; report before following
    // the feed, so the driver exists.
    let spread = rand::rng().random::<f64>();
    sleep(args.report_every.mul_f64(spread)).await;
    report(&api, &id, at).await;
    let (tx, mut events) = mpsc::channel(16);
    let _feed = follow_feed(api.clone(), id.clone(), tx);
    let mut tick = interval(args.report_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut plan = Plan::Roam;
    let mut answer: Option<Answer> = None;
    loop {
        let answer_at = answer.as_ref().map(|a| a.at);
        tokio::select! {
            _ = tick.tick() => {
                plan = advance(&api, &args, &region, plan, &mut at, &mut heading, km_per_report).await;
                report(&api, &id, at).await;
            }
            Some(event) = events.recv() => {
                plan = heard(&api, &args, &event, plan, &mut answer);
            }
            _ = sleep_until(answer_at.unwrap_or_else(Instant::now)), if answer_at.is_some() => {
                if let Some(Answer { ride, accept, .. }) = answer.take() {
                    let answered = if accept {
                        api.client.accept_offer(&ride).await
                    } else {
                        api.client.decline_offer(&ride).await
                    };
                    if api.counted(answered).is_some() {
                        api.count(|c| if accept { &c.accepted } else { &c.declined });
                    }
                }
            }
        }
    }
}

/// What the driver does with an event of its feed.
fn heard(
    api: &Api,
    args: &SimulateArgs,
    event: &FeedEvent,
    plan: Plan,
    answer: &mut Option<Answer>,
) -> Plan {
    let ride = event.ride.as_ref();
    match event.kind {
        FeedKind::Offer => {
            if let Some(ride) = ride {
                consider(api, args, ride, answer);
            }
            plan
        }
        FeedKind::OfferEnded => {
            if answer.as_ref().map(|a| Some(&a.ride)) == Some(ride.map(|r| &r.id)) {
                *answer = None;
            }
            plan
        }
        FeedKind::Ride => match ride {
            Some(ride) if ride.status == RideStatus::DriverFound => {
                trip(ride).map_or(plan, Plan::ToPickup)
            }
            Some(ride) if ride.status.is_terminal() && on(&plan, &ride.id) => Plan::Roam,
            _ => plan,
        },
        FeedKind::State => match (event.driver.status, ride) {
            (DriverStatus::Assigned, Some(ride)) => resume(ride).unwrap_or(plan),
            (DriverStatus::Offered, Some(ride)) => {
                if answer.is_none() {
                    consider(api, args, ride, answer);
                }
                plan
            }
            (DriverStatus::Available | DriverStatus::Offline, _) => Plan::Roam,
            _ => plan,
        },
        FeedKind::Other => plan,
    }
}

/// Decides on an offer: accept, decline, or let it time out.
fn consider(api: &Api, args: &SimulateArgs, ride: &Ride, answer: &mut Option<Answer>) {
    let mut rng = rand::rng();
    let pause = args.answer_within.mul_f64(rng.random_range(0.2..=1.0));
    let accept = rng.random::<f64>() < args.accept_rate;
    if !accept && rng.random::<bool>() {
        api.count(|c| &c.ignored);
        return;
    }
    *answer = Some(Answer {
        ride: ride.id.clone(),
        at: Instant::now() + pause,
        accept,
    });
}

fn on(plan: &Plan, ride: &str) -> bool {
    match plan {
        Plan::Roam => false,
        Plan::ToPickup(t) | Plan::Boarding(t, _) | Plan::ToDropoff(t) => t.ride == ride,
    }
}

/// A ride's trip; a ride without a dropoff goes 2 km on from the pickup.
fn trip(ride: &Ride) -> Option<Trip> {
    let pickup = point(&ride.pickup)?;
    let dropoff = ride
        .dropoff
        .as_ref()
        .and_then(point)
        .unwrap_or_else(|| step(pickup, 0.0, 2.0));
    Some(Trip {
        ride: ride.id.clone(),
        pickup,
        dropoff,
    })
}

/// Picks a ride up where it stands (after a reconnect).
fn resume(ride: &Ride) -> Option<Plan> {
    let trip = trip(ride)?;
    Some(match ride.status {
        RideStatus::DriverFound => Plan::ToPickup(trip),
        RideStatus::Arrived => Plan::Boarding(trip, Instant::now()),
        RideStatus::InProgress => Plan::ToDropoff(trip),
        _ => Plan::Roam,
    })
}

/// One tick of driving: moves, and takes the trip's next step when due.
async fn advance(
    api: &Api,
    args: &SimulateArgs,
    region: &Region,
    plan: Plan,
    at: &mut Coordinates,
    heading: &mut f64,
    km: f64,
) -> Plan {
    match plan {
        Plan::Roam => {
            *heading += rand::rng().random_range(-0.5..0.5);
            // A step that would leave the region turns back towards it.
            if !region.contains(step(*at, *heading, km)) {
                *heading = heading_to(*at, region.center());
            }
            *at = step(*at, *heading, km);
            Plan::Roam
        }
        Plan::ToPickup(trip) => {
            if !arrive(at, trip.pickup, km) {
                return Plan::ToPickup(trip);
            }
            match api.counted(api.client.driver_arrived(&trip.ride).await) {
                Some(_) => Plan::Boarding(trip, Instant::now() + args.boarding),
                None => Plan::Roam,
            }
        }
        Plan::Boarding(trip, until) => {
            if Instant::now() < until {
                return Plan::Boarding(trip, until);
            }
            match api.counted(api.client.start_trip(&trip.ride).await) {
                Some(_) => Plan::ToDropoff(trip),
                None => Plan::Roam,
            }
        }
        Plan::ToDropoff(trip) => {
            if !arrive(at, trip.dropoff, km) {
                return Plan::ToDropoff(trip);
            }
            if api
                .counted(api.client.complete_ride(&trip.ride).await)
                .is_some()
            {
                api.count(|c| &c.completed);
            }
            Plan::Roam
        }
    }
}

/// Moves `km` towards `target`; whether it got there.
fn arrive(at: &mut Coordinates, target: Coordinates, km: f64) -> bool {
    if at.distance_km(&target) <= km {
        *at = target;
        return true;
    }
    *at = step(*at, heading_to(*at, target), km);
    false
}

async fn report(api: &Api, id: &str, at: Coordinates) {
    api.count(|c| &c.reports);
    let reported = api.client.update_location(id, at.lat(), at.lng()).await;
    api.counted(reported);
}
