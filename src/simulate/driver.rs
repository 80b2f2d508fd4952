//! One simulated driver: it reports its position every `--report-every`,
//! follows its own `driverFeed`, answers offers like a person (a pause,
//! then yes, no, or nothing), and drives each ride it gets to the pickup
//! and on to the dropoff through the trip's steps — along road routes with
//! `--roads` (free, it drives to random places nearby), in straight lines
//! without (free, it wanders).

use std::{sync::atomic::Ordering, time::Duration};

use rand::{rngs::StdRng, Rng};
use tokio::{
    sync::mpsc,
    time::{interval, sleep, sleep_until, Instant, MissedTickBehavior},
};
use tokio_util::task::AbortOnDropHandle;
use tracking_client::{DriverStatus, FeedEvent, FeedKind, Ride, RideStatus};

use super::{
    api::{Api, Counters},
    args::SimulateArgs,
    region::{heading_to, step, Region},
    streets::{Leg, Streets},
};
use crate::domain::Coordinates;

/// What the driver is doing.
#[derive(Debug, Clone)]
enum Plan {
    /// Free: roaming.
    Roam,
    /// Assigned: driving to the pickup.
    ToPickup(Trip, Leg),
    /// At the pickup, until the rider has boarded.
    Boarding(Trip, Instant),
    /// On the trip to the dropoff.
    ToDropoff(Trip, Leg),
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

/// A driver and what it knows.
pub(super) struct Driver {
    pub(super) api: Api,
    pub(super) args: SimulateArgs,
    pub(super) streets: Streets,
    pub(super) region: Region,
    pub(super) id: String,
    /// This driver's own random choices (seeded from `--seed` and its index).
    pub(super) rng: StdRng,
    at: Coordinates,
    heading: f64,
    plan: Plan,
    /// Free with roads: where it is driving to.
    roam: Option<Leg>,
}

impl Driver {
    pub(super) fn new(
        api: Api,
        args: SimulateArgs,
        streets: Streets,
        region: Region,
        index: usize,
        mut rng: StdRng,
    ) -> Driver {
        let at = streets
            .random_pair(&region, &mut rng)
            .map_or_else(|| region.random_point(&mut rng), |(a, _)| a);
        let heading = rng.random_range(0.0..std::f64::consts::TAU);
        Driver {
            api,
            args,
            streets,
            region,
            id: format!("sim-{index}"),
            rng,
            at,
            heading,
            plan: Plan::Roam,
            roam: None,
        }
    }

    /// Simulated time passed in real `d`.
    fn simulated(&self, d: Duration) -> Duration {
        d.mul_f64(self.args.time_scale)
    }

    /// Real time a simulated `d` takes.
    fn real(&self, d: Duration) -> Duration {
        d.div_f64(self.args.time_scale)
    }

    pub(super) async fn drive(mut self) {
        // Spread the first reports over one interval; report before following
        // the feed, so the driver exists.
        let spread = self.rng.random::<f64>();
        sleep(self.args.report_every.mul_f64(spread)).await;
        self.report().await;
        let (tx, mut events) = mpsc::channel(16);
        let _feed = follow_feed(self.api.clone(), self.id.clone(), tx);
        let mut tick = interval(self.args.report_every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut answer: Option<Answer> = None;
        let mut last = Instant::now();
        loop {
            let answer_at = answer.as_ref().map(|a| a.at);
            tokio::select! {
                _ = tick.tick() => {
                    // Drives the real time since the last tick, however
                    // late this one is (a busy machine delays ticks).
                    let now = Instant::now();
                    let ms = self.simulated(now - last).as_secs_f64() * 1000.0;
                    last = now;
                    self.advance(ms).await;
                    self.report().await;
                }
                Some(event) = events.recv() => self.heard(&event, &mut answer),
                _ = sleep_until(answer_at.unwrap_or_else(Instant::now)), if answer_at.is_some() => {
                    if let Some(Answer { ride, accept, .. }) = answer.take() {
                        let api = &self.api;
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
    fn heard(&mut self, event: &FeedEvent, answer: &mut Option<Answer>) {
        let ride = event.ride.as_ref();
        match event.kind {
            FeedKind::Offer => {
                if let Some(ride) = ride {
                    self.consider(ride, answer);
                }
            }
            FeedKind::OfferEnded => {
                if answer.as_ref().map(|a| Some(&a.ride)) == Some(ride.map(|r| &r.id)) {
                    *answer = None;
                }
            }
            FeedKind::Ride => match ride {
                Some(ride) if ride.status == RideStatus::DriverFound => {
                    if let Some(trip) = trip(ride) {
                        let leg = self.leg(trip.pickup);
                        self.plan = Plan::ToPickup(trip, leg);
                        self.roam = None;
                    }
                }
                Some(ride) if ride.status.is_terminal() && on(&self.plan, &ride.id) => {
                    self.free();
                }
                _ => {}
            },
            FeedKind::State => match (event.driver.status, ride) {
                (DriverStatus::Assigned, Some(ride)) => self.resume(ride),
                (DriverStatus::Offered, Some(ride)) if answer.is_none() => {
                    self.consider(ride, answer);
                }
                (DriverStatus::Available | DriverStatus::Offline, _) => self.free(),
                _ => {}
            },
            FeedKind::Other => {}
        }
    }

    fn free(&mut self) {
        if !matches!(self.plan, Plan::Roam) {
            self.plan = Plan::Roam;
            self.roam = None;
        }
    }

    /// The leg from here to `to`, counting one that could not follow the roads.
    fn leg(&self, to: Coordinates) -> Leg {
        let leg = self.streets.leg(self.at, to);
        if !leg.by_road && self.streets.roads.is_some() {
            self.api.count(|c| &c.off_road);
        }
        leg
    }

    /// Decides on an offer: accept, decline, or let it time out.
    fn consider(&mut self, ride: &Ride, answer: &mut Option<Answer>) {
        let pause = self
            .real(self.args.answer_within)
            .mul_f64(self.rng.random_range(0.2..=1.0));
        let accept = self.rng.random::<f64>() < self.args.accept_rate;
        if !accept && self.rng.random::<bool>() {
            self.api.count(|c| &c.ignored);
            return;
        }
        *answer = Some(Answer {
            ride: ride.id.clone(),
            at: Instant::now() + pause,
            accept,
        });
    }

    /// Picks a ride up where it stands (after a reconnect).
    fn resume(&mut self, ride: &Ride) {
        if on(&self.plan, &ride.id) {
            return;
        }
        let Some(trip) = trip(ride) else {
            return;
        };
        self.roam = None;
        self.plan = match ride.status {
            RideStatus::DriverFound => {
                let leg = self.leg(trip.pickup);
                Plan::ToPickup(trip, leg)
            }
            RideStatus::Arrived => Plan::Boarding(trip, Instant::now()),
            RideStatus::InProgress => {
                let leg = self.leg(trip.dropoff);
                Plan::ToDropoff(trip, leg)
            }
            _ => Plan::Roam,
        };
    }

    /// One tick of driving (`ms` of simulated time): moves, and takes the
    /// trip's next step when due.
    async fn advance(&mut self, ms: f64) {
        let counters = &self.api.counters;
        if counters.counting() {
            counters.driver_ms.fetch_add(ms as u64, Ordering::Relaxed);
            if matches!(self.plan, Plan::Roam) {
                counters.idle_ms.fetch_add(ms as u64, Ordering::Relaxed);
            }
        }
        let plan = std::mem::replace(&mut self.plan, Plan::Roam);
        self.plan = match plan {
            Plan::Roam => {
                self.wander(ms);
                Plan::Roam
            }
            Plan::ToPickup(trip, mut leg) => {
                self.at = leg.drive(ms).unwrap_or(self.at);
                if leg.done() {
                    self.arrive(trip, &leg).await
                } else {
                    Plan::ToPickup(trip, leg)
                }
            }
            Plan::Boarding(trip, until) if Instant::now() < until => Plan::Boarding(trip, until),
            Plan::Boarding(trip, _) => {
                let api = &self.api;
                match api.counted(api.client.start_trip(&trip.ride).await) {
                    Some(_) => {
                        let leg = self.leg(trip.dropoff);
                        Plan::ToDropoff(trip, leg)
                    }
                    None => Plan::Roam,
                }
            }
            Plan::ToDropoff(trip, mut leg) => {
                self.at = leg.drive(ms).unwrap_or(self.at);
                if leg.done() {
                    let api = &self.api;
                    if api
                        .counted(api.client.complete_ride(&trip.ride).await)
                        .is_some()
                    {
                        api.count(|c| &c.completed);
                    }
                    Plan::Roam
                } else {
                    Plan::ToDropoff(trip, leg)
                }
            }
        };
    }

    /// At the pickup after driving `leg`: says so, and keeps the leg's time.
    async fn arrive(&self, trip: Trip, leg: &Leg) -> Plan {
        let api = &self.api;
        match api.counted(api.client.driver_arrived(&trip.ride).await) {
            Some(_) => {
                if api.counters.counting() {
                    Counters::keep(&api.counters.pickups, leg.seconds());
                }
                Plan::Boarding(trip, Instant::now() + self.real(self.args.boarding))
            }
            None => Plan::Roam,
        }
    }

    /// Free for `ms` of simulated time: along roads to a place nearby (a new
    /// one when there), or, without roads, a few degrees off its heading.
    fn wander(&mut self, ms: f64) {
        if self.streets.roads.is_some() {
            if self.roam.as_ref().is_none_or(Leg::done) {
                self.roam = self.streets.roam_leg(&self.region, self.at, &mut self.rng);
            }
            if let Some(leg) = self.roam.as_mut() {
                self.at = leg.drive(ms).unwrap_or(self.at);
            }
            return;
        }
        let km = self.args.speed_kmh * ms / 3_600_000.0;
        self.heading += self.rng.random_range(-0.5..0.5);
        // A step that would leave the region turns back towards it.
        if !self.region.contains(step(self.at, self.heading, km)) {
            self.heading = heading_to(self.at, self.region.center());
        }
        self.at = step(self.at, self.heading, km);
    }

    async fn report(&self) {
        let api = &self.api;
        api.count(|c| &c.reports);
        let reported = api
            .client
            .update_location(&self.id, self.at.lat(), self.at.lng())
            .await;
        api.counted(reported);
    }
}

fn on(plan: &Plan, ride: &str) -> bool {
    match plan {
        Plan::Roam => false,
        Plan::ToPickup(t, _) | Plan::Boarding(t, _) | Plan::ToDropoff(t, _) => t.ride == ride,
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
