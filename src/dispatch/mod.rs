//! Dispatch: where a ride's life is decided.
//!
//! The [`Dispatcher`] is what the GraphQL resolvers and the REST adapters
//! call. It reads the clock, asks the store to change state (drivers here,
//! rides, offers and trips in [`rides`]), and runs one search task per
//! SEARCHING ride ([`search`]), which offers the ride or assigns it. It wakes those tasks early
//! when something they wait for happens: a driver becoming available near
//! their pickup ([`wakeup`]), or their own cancellation. Who may do what is
//! decided here too ([`access`]), so GraphQL and the REST adapters enforce
//! the same rules, as are the live streams ([`live`]: a ride, its driver,
//! an area) and the per-driver update limit ([`rate`]). Its background tasks
//! (wake-ups, lease renewal and adoption, sweeping) are in [`background`].
//! It never builds a storage command; it never knows about GraphQL.

pub mod access;
mod background;
pub mod live;
pub mod rate;
mod rides;
mod search;
pub mod wakeup;

use std::{sync::Arc, time::Duration};

use futures_util::Stream;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::warn;

use crate::{
    auth::{Caller, Role},
    domain::{
        AreaId, Coordinates, Driver, DriverId, Limit, LocationReport, NearbyDriver, RadiusKm,
        ReportOutcome, Ride, RideId, ServiceAreas,
    },
    error::{Error, Result},
    store::{Offers, Store},
};
use wakeup::SearchingRides;

/// Most reports one `updateLocations` call may carry.
pub const MAX_BATCH: usize = 1000;
/// How far in the future a report's timestamp may lie (clock skew).
const FUTURE_SKEW_SECS: i64 = 60;
/// How often the store is swept: a driver silent past the TTL is announced
/// OFFLINE within about this long.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// How rides are searched for.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How far from the pickup a driver may be matched.
    pub match_radius: RadiusKm,
    /// How long a ride searches before it expires.
    pub request_timeout: Duration,
    /// How often a ride searches when nothing wakes it sooner.
    pub search_interval: Duration,
    /// Location updates allowed per driver per second (0: no limit).
    pub max_update_rate: f64,
    /// Fastest plausible driver speed; a report implying a faster jump is refused.
    pub max_speed_kmh: f64,
    /// Most rides a rider may have that have not ended (0: no limit).
    pub max_active_rides_per_rider: usize,
    /// Whether rides are offered to drivers first, and for how long.
    pub offers: Offers,
    /// How often a `fleet` subscriber gets the changes since the last
    /// event, in one event (zero: one event per change).
    pub fleet_interval: Duration,
}

/// The service's operations, on top of a [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    settings: Settings,
    /// Where the service operates, with each area's own rules.
    areas: Arc<ServiceAreas>,
    searching: SearchingRides,
    /// Area snapshots, shared by live maps asking together.
    snapshots: Arc<live::Snapshots>,
    update_rate: rate::UpdateRate,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Dispatcher {
    /// A dispatcher over `store`, running: it listens for drivers becoming
    /// available, takes over the searching rides nobody runs (on Redis:
    /// those of instances that died), and keeps doing so periodically.
    pub async fn start(
        store: Arc<dyn Store>,
        settings: Settings,
        areas: Arc<ServiceAreas>,
    ) -> Result<Self> {
        let store: Arc<dyn Store> = Arc::new(crate::store::traced::Traced::new(store));
        let dispatcher = Self {
            inner: Arc::new(Inner {
                snapshots: live::Snapshots::new(store.clone()),
                store,
                settings,
                areas,
                searching: SearchingRides::default(),
                update_rate: rate::UpdateRate::new(settings.max_update_rate),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        };
        dispatcher.spawn_wake_listener();
        dispatcher.spawn_sweeper();
        dispatcher.adopt_orphans().await?;
        if let Some(every) = dispatcher.store().maintenance_interval() {
            dispatcher.spawn_maintenance(every);
        }
        Ok(dispatcher)
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    pub fn settings(&self) -> Settings {
        self.inner.settings
    }

    /// The service's areas.
    pub fn areas(&self) -> &Arc<ServiceAreas> {
        &self.inner.areas
    }

    /// The settings a ride's search runs with: its area's rules over the
    /// service's.
    pub fn settings_for(&self, ride: &RideId) -> Settings {
        let base = self.inner.settings;
        let Some(area) = self.inner.areas.of_ride(ride) else {
            return base;
        };
        Settings {
            match_radius: area.rules.match_radius.unwrap_or(base.match_radius),
            request_timeout: area.rules.request_timeout.unwrap_or(base.request_timeout),
            search_interval: area.rules.search_interval.unwrap_or(base.search_interval),
            offers: Offers {
                timeout: area.rules.offer_timeout.unwrap_or(base.offers.timeout),
                ..base.offers
            },
            ..base
        }
    }

    /// The widest match radius of any area: a driver becoming available
    /// wakes the rides this close (a ride woken for nothing searches once).
    pub(crate) fn widest_match_radius(&self) -> RadiusKm {
        self.inner
            .areas
            .all()
            .iter()
            .filter_map(|a| a.rules.match_radius)
            .fold(self.inner.settings.match_radius, |widest, r| {
                if r.km() > widest.km() {
                    r
                } else {
                    widest
                }
            })
    }

    /// What an area holds now.
    #[tracing::instrument(level = "info", skip_all, fields(area = %area))]
    pub async fn area_counts(&self, area: &AreaId) -> Result<crate::store::AreaCounts> {
        self.store().area_counts(area).await
    }

    pub(crate) fn searching(&self) -> &SearchingRides {
        &self.inner.searching
    }

    pub(crate) fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Stops every search task and waits for them, then hands this
    /// instance's searching rides over (on Redis, another instance adopts
    /// them at once; in memory they end with the process).
    #[tracing::instrument(level = "info", skip_all)]
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        if let Err(error) = self.store().hand_over_rides().await {
            warn!(%error, "could not hand searching rides over");
        }
    }

    /// Whether events from other instances reach this one.
    pub fn events_connected(&self) -> bool {
        self.store().events_connected()
    }

    /// Succeeds while the store answers.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ping(&self) -> Result<()> {
        self.store().ping().await
    }

    /// Records a driver's position (the store announces it when the
    /// driver is available, which wakes the rides near it).
    #[tracing::instrument(level = "info", skip_all, fields(driver = %id))]
    pub async fn update_location(
        &self,
        caller: &Caller,
        id: &DriverId,
        at: Coordinates,
    ) -> Result<Driver> {
        access::may_act_as_driver(caller, id, "updateLocation")?;
        self.inner
            .update_rate
            .check(id, std::time::Instant::now())?;
        self.store()
            .update_location(id, at, self.store().now(), self.settings().max_speed_kmh)
            .await
    }

    /// Records many positions in one call (one store round trip). Checks
    /// access for every report first and refuses the whole call if one is
    /// not allowed; then each report is accepted, ignored as stale, or
    /// refused on its own (too fast, implausible jump).
    #[tracing::instrument(level = "info", skip_all, fields(reports = reports.len()))]
    pub async fn update_locations(
        &self,
        caller: &Caller,
        reports: Vec<LocationReport>,
    ) -> Result<Vec<ReportOutcome>> {
        if reports.len() > MAX_BATCH {
            return Err(Error::bad_input(format!(
                "at most {MAX_BATCH} updates per call"
            )));
        }
        let now = self.store().now();
        for report in &reports {
            access::may_act_as_driver(caller, &report.driver, "updateLocations")?;
            if report.taken_at > now + chrono::Duration::seconds(FUTURE_SKEW_SECS) {
                return Err(Error::bad_input(format!(
                    "update for {} is dated in the future ({})",
                    report.driver, report.taken_at
                )));
            }
        }
        let clock = std::time::Instant::now();
        let mut outcomes: Vec<Option<ReportOutcome>> = reports
            .iter()
            .map(|r| {
                self.inner
                    .update_rate
                    .check(&r.driver, clock)
                    .err()
                    .map(ReportOutcome::Refused)
            })
            .collect();
        let admitted: Vec<LocationReport> = reports
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| o.is_none())
            .map(|(r, _)| r.clone())
            .collect();
        let mut stored = self
            .store()
            .update_locations(&admitted, now, self.settings().max_speed_kmh)
            .await?
            .into_iter();
        for outcome in outcomes.iter_mut().filter(|o| o.is_none()) {
            *outcome = stored.next();
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or(ReportOutcome::Stale))
            .collect())
    }

    /// Takes a driver off the market.
    #[tracing::instrument(level = "info", skip_all, fields(driver = %id))]
    pub async fn go_offline(&self, caller: &Caller, id: &DriverId) -> Result<Driver> {
        access::may_act_as_driver(caller, id, "goOffline")?;
        self.store().go_offline(id, self.store().now()).await
    }

    /// A driver as it stands now.
    #[tracing::instrument(level = "info", skip_all, fields(driver = %id))]
    pub async fn driver(&self, caller: &Caller, id: &DriverId) -> Result<Option<Driver>> {
        access::may_look_up_rides(caller, "driver")?;
        let driver = self.store().driver(id, self.store().now()).await?;
        let ride = match (caller, driver.as_ref().and_then(|d| d.ride_id.as_ref())) {
            (
                Caller::Token {
                    role: Role::Rider, ..
                },
                Some(ride),
            ) => self.store().ride(ride).await?,
            _ => None,
        };
        access::may_see_driver(caller, id, ride.as_deref())?;
        Ok(driver)
    }

    /// AVAILABLE drivers near a point, nearest first. Riders see positions
    /// and distances, not who the drivers are.
    #[tracing::instrument(level = "info", skip_all, fields(limit = ?limit))]
    pub async fn nearby_drivers(
        &self,
        caller: &Caller,
        center: Coordinates,
        radius: RadiusKm,
        limit: Limit,
    ) -> Result<Vec<NearbyDriver>> {
        let show_ids = access::may_list_nearby(caller)?;
        let mut found = self
            .store()
            .nearby_drivers(center, radius, limit, self.store().now())
            .await?;
        if !show_ids {
            for (rank, near) in found.iter_mut().enumerate() {
                near.driver.id = DriverId::parse(&format!("hidden-{}", rank + 1))?;
                near.driver.updated_at = None;
            }
        }
        Ok(found)
    }

    /// A ride, whatever its status.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id))]
    pub async fn ride(&self, caller: &Caller, id: &RideId) -> Result<Option<Arc<Ride>>> {
        access::may_look_up_rides(caller, "ride")?;
        let ride = self.store().ride(id).await?;
        if let Some(ride) = &ride {
            access::may_see_ride(caller, ride, "ride")?;
        }
        Ok(ride)
    }

    /// The driver of a ride that a caller allowed to read the ride may see
    /// as it is now. Once the ride has ended only dispatchers see its
    /// driver: a rider (or another driver) learns where the car goes next
    /// from no past ride.
    pub fn driver_to_show<'r>(&self, caller: &Caller, ride: &'r Ride) -> Option<&'r DriverId> {
        ride.driver_id
            .as_ref()
            .filter(|_| access::may_follow_driver_of(caller, ride))
    }

    /// Drivers as they are now, by id (for a batch of rides whose drivers a
    /// response shows). No access check: the caller checked each ride.
    #[tracing::instrument(level = "info", skip_all, fields(drivers = ids.len()))]
    pub async fn drivers_now(&self, ids: &[DriverId]) -> Result<Vec<Driver>> {
        self.store().drivers(ids, self.store().now()).await
    }

    /// The assigned driver of a ride, each time it moves, until the ride ends.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id))]
    pub async fn watch_driver(
        &self,
        caller: &Caller,
        id: &RideId,
    ) -> Result<impl Stream<Item = Result<Arc<Driver>>> + Send + 'static> {
        let ride = self.existing_ride(caller, id, "driverLocation").await?;
        access::may_see_ride(caller, &ride, "driverLocation")?;
        self.store().watch_drivers().await?;
        live::driver_of_ride(self.inner.store.clone(), id, caller.clone()).await
    }

    /// Everything in an area: a snapshot, then each driver and ride change.
    #[tracing::instrument(level = "info", skip_all)]
    pub async fn watch_area(
        &self,
        caller: &Caller,
        center: Coordinates,
        radius: RadiusKm,
    ) -> Result<impl Stream<Item = live::FleetEvent> + Send + 'static> {
        access::may_watch_fleet(caller)?;
        self.store().watch_drivers().await?;
        live::area(
            self.inner.store.clone(),
            self.inner.snapshots.clone(),
            center,
            radius,
            self.inner.settings.fleet_interval,
        )
        .await
    }
}
