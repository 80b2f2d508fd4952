//! The [`Dispatcher`]: every operation the API layer calls, in one place,
//! each handed to the collaborator that does it (drivers, rides, streams,
//! the search tasks and the background upkeep).

use std::sync::Arc;

use futures_util::Stream;

use super::{
    access,
    background::Background,
    devices::DevicePosition,
    drivers::DriverOps,
    live,
    ranking::{AreaRoads, NearbyOrder, Ranking},
    replay::{self, PageSize, ReplayPage, TypeFilter},
    rides::RideOps,
    search::Searches,
    settings::{AreaSettings, Settings},
    streams::Streams,
};
use crate::{
    auth::Caller,
    domain::error::Result,
    domain::{
        AreaCounts, AreaId, Coordinates, Driver, DriverId, Eta, EventId, IdempotencyKey, Limit,
        LocationReport, NearbyDriver, RadiusKm, ReportOutcome, Ride, RideId, RiderId, ServiceAreas,
        Step,
    },
    store::{SinkId, Store},
};

/// The service's operations, on top of a [`Store`]. Cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

/// The dispatcher's collaborators, each owning its part.
struct Inner {
    store: Arc<dyn Store>,
    settings: AreaSettings,
    drivers: DriverOps,
    rides: RideOps,
    streams: Streams,
    searches: Arc<Searches>,
}

impl Dispatcher {
    /// A dispatcher over `store`, running: it listens for drivers becoming
    /// available, takes over the searching rides nobody runs (on Redis:
    /// those of instances that died), and keeps doing so periodically.
    pub async fn start(
        store: Arc<dyn Store>,
        settings: Settings,
        areas: Arc<ServiceAreas>,
        roads: AreaRoads,
    ) -> Result<Self> {
        let store: Arc<dyn Store> = Arc::new(crate::store::traced::Traced::new(store));
        let ranking = Ranking::new(roads, areas.clone());
        let by_area = AreaSettings::new(settings, areas);
        let searches = Searches::new(store.clone(), by_area.clone(), ranking);
        let dispatcher = Self {
            inner: Arc::new(Inner {
                drivers: DriverOps::new(
                    store.clone(),
                    settings.max_update_rate,
                    settings.max_speed_kmh,
                ),
                rides: RideOps::new(searches.clone()),
                streams: Streams::new(store.clone(), settings.fleet_interval),
                searches: searches.clone(),
                settings: by_area,
                store,
            }),
        };
        Background::start(&searches).await?;
        Ok(dispatcher)
    }

    /// The service's settings.
    pub fn settings(&self) -> Settings {
        self.inner.settings.base()
    }

    /// The service's areas.
    pub fn areas(&self) -> &Arc<ServiceAreas> {
        self.inner.settings.areas()
    }

    /// What an area holds now.
    #[tracing::instrument(level = "info", skip_all, fields(area = %area))]
    pub async fn area_counts(&self, area: &AreaId) -> Result<AreaCounts> {
        self.inner.store.area_counts(area).await
    }

    /// The settings an area runs by (its rules over the service's).
    pub fn area_settings(&self, area: &AreaId) -> Settings {
        self.inner.settings.for_area(area)
    }

    /// What an area's last batch window did, if one ran.
    pub async fn last_batch(&self, area: &AreaId) -> Result<Option<crate::store::LastBatch>> {
        self.inner.store.last_batch(area).await
    }

    /// Stops every search task and waits for them, then hands this
    /// instance's searching rides over (on Redis, another instance adopts
    /// them at once; in memory they end with the process).
    #[tracing::instrument(level = "info", skip_all)]
    pub async fn shutdown(&self) {
        self.inner.searches.stop().await;
    }

    /// Whether events from other instances reach this one.
    pub fn events_connected(&self) -> bool {
        self.inner.store.events_connected()
    }

    /// Succeeds while the store answers.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn ping(&self) -> Result<()> {
        self.inner.store.ping().await
    }

    /// Records a driver's position (the store announces it when the
    /// driver is available, which wakes the rides near it). Its span is
    /// `debug`, as `update_locations`'s: reports are the service's hot path,
    /// and their resolver's `info` span already names the step.
    #[tracing::instrument(level = "debug", skip_all, fields(driver = %id))]
    pub async fn update_location(
        &self,
        caller: &Caller,
        id: &DriverId,
        at: Coordinates,
    ) -> Result<Driver> {
        self.inner.drivers.update_location(caller, id, at).await
    }

    /// Records a position a device sent for `driver` (OwnTracks, Traccar
    /// Client): one entry of `update_locations`, at the device's own time,
    /// so a late message is STALE. Who the driver is, the caller decided.
    #[tracing::instrument(level = "debug", skip_all, fields(driver = %driver))]
    pub async fn device_report(
        &self,
        driver: &DriverId,
        position: DevicePosition,
    ) -> Result<ReportOutcome> {
        self.inner.drivers.device_report(driver, position).await
    }

    /// Records many positions in one call (one store round trip). Checks
    /// access for every report first and refuses the whole call if one is
    /// not allowed; then each report is accepted, ignored as stale, or
    /// refused on its own (too fast, implausible jump).
    #[tracing::instrument(level = "debug", skip_all, fields(reports = reports.len()))]
    pub async fn update_locations(
        &self,
        caller: &Caller,
        reports: Vec<LocationReport>,
    ) -> Result<Vec<ReportOutcome>> {
        self.inner.drivers.update_locations(caller, reports).await
    }

    /// Takes a driver off the market.
    #[tracing::instrument(level = "info", skip_all, fields(driver = %id))]
    pub async fn go_offline(&self, caller: &Caller, id: &DriverId) -> Result<Driver> {
        self.inner.drivers.go_offline(caller, id).await
    }

    /// A driver as it stands now.
    #[tracing::instrument(level = "info", skip_all, fields(driver = %id))]
    pub async fn driver(&self, caller: &Caller, id: &DriverId) -> Result<Option<Driver>> {
        self.inner.drivers.driver(caller, id).await
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
        order: NearbyOrder,
    ) -> Result<Vec<NearbyDriver>> {
        let ranking = self.inner.searches.ranking();
        let line = self.inner.settings.straight_line_at(center);
        let by_eta = (order == NearbyOrder::Eta).then_some((ranking, line));
        (self.inner.drivers)
            .nearby_drivers(caller, center, radius, limit, by_eta)
            .await
    }

    /// The time from `from` to `to` (by the roads of `to`'s area, or the
    /// straight-line estimate).
    pub async fn eta(&self, from: Coordinates, to: Coordinates) -> Result<Eta> {
        let line = self.inner.settings.straight_line_at(to);
        let etas = self.inner.searches.ranking().etas(vec![from], to, line);
        Ok(etas
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| line.eta(&from, &to)))
    }

    /// The road route from `from` to `to` for drawing (at most 200 points);
    /// `None` without roads there, or without a route.
    pub async fn route(
        &self,
        from: Coordinates,
        to: Coordinates,
    ) -> Result<Option<Vec<Coordinates>>> {
        self.inner.searches.ranking().route(from, to).await
    }

    /// Drivers as they are now, by id (for a batch of rides whose drivers a
    /// response shows). No access check: the caller checked each ride.
    #[tracing::instrument(level = "info", skip_all, fields(drivers = ids.len()))]
    pub async fn drivers_now(&self, ids: &[DriverId]) -> Result<Vec<Driver>> {
        self.inner.drivers.drivers_now(ids).await
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

    /// A ride, whatever its status.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id))]
    pub async fn ride(&self, caller: &Caller, id: &RideId) -> Result<Option<Arc<Ride>>> {
        self.inner.rides.ride(caller, id).await
    }

    /// Creates a SEARCHING ride and starts its search task; returns at once.
    /// A retry with the same idempotency key returns the ride the first
    /// request created, whatever became of that request's reply.
    #[tracing::instrument(level = "info", skip_all, fields(rider = %rider))]
    pub async fn request_driver(
        &self,
        caller: &Caller,
        rider: &RiderId,
        pickup: Coordinates,
        dropoff: Option<Coordinates>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<Arc<Ride>> {
        self.inner
            .rides
            .request_driver(caller, rider, pickup, dropoff, idempotency_key)
            .await
    }

    /// Cancels a ride; a driver it held becomes available again, an offer
    /// it made is withdrawn.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id))]
    pub async fn cancel_ride(&self, caller: &Caller, id: &RideId) -> Result<Arc<Ride>> {
        self.inner.rides.cancel_ride(caller, id).await
    }

    /// Moves a ride with a driver one step through its trip: arrived at the
    /// pickup, trip started, completed (which frees the driver).
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id, step = ?step))]
    pub async fn advance_trip(
        &self,
        caller: &Caller,
        id: &RideId,
        step: Step,
    ) -> Result<Arc<Ride>> {
        self.inner.rides.advance_trip(caller, id, step).await
    }

    /// Answers a ride's offer: accepted, the ride is DRIVER_FOUND;
    /// declined, its search goes on at once with the next nearest driver.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id, accept))]
    pub async fn answer_offer(
        &self,
        caller: &Caller,
        id: &RideId,
        accept: bool,
    ) -> Result<Arc<Ride>> {
        self.inner.rides.answer_offer(caller, id, accept).await
    }

    /// The assigned driver of a ride, each time it moves, until the ride ends.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id))]
    pub async fn watch_driver(
        &self,
        caller: &Caller,
        id: &RideId,
    ) -> Result<impl Stream<Item = Result<(Arc<Driver>, Option<Eta>)>> + Send + 'static> {
        let moves = self.inner.streams.watch_driver(caller, id).await?;
        Ok(super::pickup_eta::with_pickup_eta(
            moves,
            self.inner.searches.clone(),
        ))
    }

    /// Everything in an area: a snapshot, then each driver and ride change.
    #[tracing::instrument(level = "info", skip_all)]
    pub async fn watch_area(
        &self,
        caller: &Caller,
        center: Coordinates,
        radius: RadiusKm,
    ) -> Result<impl Stream<Item = live::FleetEvent> + Send + 'static> {
        self.inner.streams.watch_area(caller, center, radius).await
    }

    /// What a driver app follows: the driver now (with its offer or ride),
    /// then each offer, its end, each change of its ride, and going
    /// offline or back.
    #[tracing::instrument(level = "info", skip_all, fields(driver = %id))]
    pub async fn watch_driver_feed(
        &self,
        caller: &Caller,
        id: &DriverId,
    ) -> Result<impl Stream<Item = live::FeedEvent> + Send + 'static> {
        self.inner.streams.watch_driver_feed(caller, id).await
    }

    /// The ride as it is now, then every status change until it ends.
    #[tracing::instrument(level = "info", skip_all, fields(ride = %id))]
    pub async fn watch_ride(
        &self,
        caller: &Caller,
        id: &RideId,
    ) -> Result<impl Stream<Item = Result<Arc<Ride>>> + Send + 'static> {
        self.inner.streams.watch_ride(caller, id).await
    }

    /// A page of an area's event log after `after` (`None`: from the oldest
    /// kept), of the types `types` wants. Dispatchers only.
    #[tracing::instrument(level = "info", skip_all)]
    pub async fn events(
        &self,
        caller: &Caller,
        area: Option<AreaId>,
        after: Option<EventId>,
        types: TypeFilter,
        size: PageSize,
    ) -> Result<ReplayPage> {
        access::may_read_events(caller, "events")?;
        let area = replay::area_of(self.areas(), area, after.as_ref())?;
        replay::page(
            self.inner.store.as_ref(),
            &area,
            after.as_ref(),
            &types,
            size,
        )
        .await
    }

    /// An area's event log followed live: the page after `after` (`None`:
    /// only what comes next), then each page that follows. Dispatchers only.
    #[tracing::instrument(level = "info", skip_all)]
    pub fn watch_events(
        &self,
        caller: &Caller,
        area: Option<AreaId>,
        after: Option<EventId>,
        types: TypeFilter,
    ) -> Result<impl Stream<Item = Result<ReplayPage>> + Send + 'static> {
        access::may_read_events(caller, "events")?;
        let area = replay::area_of(self.areas(), area, after.as_ref())?;
        Ok(replay::follow(self.inner.store.clone(), area, after, types))
    }

    /// Sends an area's dead letters (those of `sink`, or all) back to their
    /// sinks; how many. Dispatchers only.
    #[tracing::instrument(level = "info", skip_all, fields(area = %area))]
    pub async fn redeliver_events(
        &self,
        caller: &Caller,
        area: AreaId,
        sink: Option<SinkId>,
    ) -> Result<usize> {
        access::may_read_events(caller, "redeliverEvents")?;
        let area = replay::area_of(self.areas(), Some(area), None)?;
        replay::redeliver(self.inner.store.as_ref(), &area, sink.as_ref()).await
    }
}
