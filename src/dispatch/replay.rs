//! An area's event log read back by a dispatcher: a page of it after a
//! position (the `events` query), the log followed live from a position
//! (the `events` subscription), and dead letters sent back to their sinks
//! (`redeliverEvents`). The log itself is the store's
//! ([`crate::store::EventLog`]); what reads it here is bounded: a page holds
//! at most [`MAX_EVENT_PAGE`] events and costs at most [`MAX_READS`] store
//! reads, however few events a type filter keeps.

use std::{collections::HashSet, sync::Arc, time::Duration};

use futures_util::Stream;

use crate::{
    domain::error::{Error, Result},
    domain::{AreaId, Event, EventId, EventType, ServiceAreas, DEFAULT_AREA},
    store::{SinkId, Store, MAX_EVENT_PAGE},
};

/// Events a page holds when the caller does not say.
pub const DEFAULT_PAGE: usize = 100;
/// Most store reads one page makes while a type filter skips events: past
/// them the page returns what it found, its `next` moved past what it read.
pub const MAX_READS: usize = 10;
/// How often a follower reads its log without a notice (a driver's change
/// on another instance is not always announced here).
pub const POLL: Duration = Duration::from_millis(250);
/// Most dead letters one `redeliverEvents` moves.
pub const MAX_REDELIVER: usize = 100_000;

/// How many events a page may hold: 1 to [`MAX_EVENT_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(usize);

impl PageSize {
    /// From a caller's `first` (`None`: [`DEFAULT_PAGE`]).
    pub fn parse(first: Option<i64>) -> Result<Self> {
        match first {
            None => Ok(Self(DEFAULT_PAGE)),
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_EVENT_PAGE).contains(n))
                .map(Self)
                .ok_or_else(|| {
                    Error::bad_input(format!("first must be 1 to {MAX_EVENT_PAGE}, not {n}"))
                }),
        }
    }

    /// The largest page.
    pub fn max() -> Self {
        Self(MAX_EVENT_PAGE)
    }
}

/// Which types a reader wants (`None`: every type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeFilter(Option<HashSet<EventType>>);

impl TypeFilter {
    /// From a caller's `types` (`None`: every type; an empty list names
    /// nothing and is refused, rather than read as "all" or "none").
    pub fn parse(types: Option<Vec<EventType>>) -> Result<Self> {
        match types {
            None => Ok(Self(None)),
            Some(t) if t.is_empty() => Err(Error::bad_input(
                "types must name at least one event type, or be left out for all",
            )),
            Some(t) => Ok(Self(Some(t.into_iter().collect()))),
        }
    }

    fn wants(&self, kind: EventType) -> bool {
        self.0.as_ref().is_none_or(|t| t.contains(&kind))
    }
}

/// What a page of an area's log says.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayPage {
    /// In log order, those of the wanted types.
    pub events: Vec<Event>,
    /// Where the next page starts: the last event read (returned or
    /// filtered out), else the position asked for. `None` only when nothing
    /// was ever read: the next page starts at the oldest kept.
    pub next: Option<EventId>,
    /// False when events may have been missed before this page (the
    /// position was older than what the log keeps, or of another epoch).
    pub recovered: bool,
    /// Whether the page stopped at a bound (its size, or its reads) rather
    /// than at the end of the log: more may follow at once.
    pub more: bool,
}

/// The area a read is for: the one named, else that of `after`, else
/// `default` when the service has it (no areas file). A named area must be
/// served here (`NOT_FOUND`), and `after` must be of it (`BAD_USER_INPUT`).
pub(super) fn area_of(
    areas: &ServiceAreas,
    area: Option<AreaId>,
    after: Option<&EventId>,
) -> Result<AreaId> {
    let area = match (area, after) {
        (Some(area), Some(after)) if after.area != area => {
            return Err(Error::bad_input(format!(
                "after ({after}) is an event of area {}, not of {area}",
                after.area
            )))
        }
        (Some(area), _) => area,
        (None, Some(after)) => after.area.clone(),
        (None, None) => match AreaId::parse(DEFAULT_AREA)
            .ok()
            .and_then(|default| areas.get(&default))
        {
            Some(default) => default.id.clone(),
            None => {
                return Err(Error::bad_input(
                    "say which area's events (area), or where to start (after)",
                ))
            }
        },
    };
    match areas.get(&area) {
        Some(_) => Ok(area),
        None => Err(Error::not_found(format!("no service area {area}"))),
    }
}

/// Up to `size` events of `area`'s log after `after` (`None`: from the
/// oldest kept) of the types `filter` wants, reading on past the others for
/// at most [`MAX_READS`] store reads.
pub(super) async fn page(
    store: &dyn Store,
    area: &AreaId,
    after: Option<&EventId>,
    filter: &TypeFilter,
    size: PageSize,
) -> Result<ReplayPage> {
    let mut events = Vec::new();
    let mut cursor = after.cloned();
    let mut recovered = true;
    // Past the last read without reaching the log's end: more may follow.
    let mut more = true;
    for _ in 0..MAX_READS {
        // Unfiltered, a read returns only what the page keeps; filtered,
        // reads are as large as they come, to skip fast.
        let want = match filter.0 {
            None => size.0 - events.len(),
            Some(_) => MAX_EVENT_PAGE,
        };
        let read = store.read_events(area, cursor.as_ref(), want).await?;
        recovered &= read.recovered;
        let got = read.events.len();
        for event in read.events {
            if events.len() == size.0 {
                break;
            }
            cursor = Some(event.id.clone());
            if filter.wants(event.kind) {
                events.push(event);
            }
        }
        if events.len() == size.0 {
            break;
        }
        if got < want {
            more = false;
            break;
        }
    }
    // Nothing read after a position the log no longer knows: start over
    // from the oldest kept, rather than ask after it again forever.
    let next = if !recovered && cursor.as_ref() == after {
        None
    } else {
        cursor
    };
    Ok(ReplayPage {
        events,
        next,
        recovered,
        more,
    })
}

/// `area`'s log followed live: first the page after `after` (without one,
/// an empty page whose `next` is the newest event: only what comes next),
/// then a page whenever events of the wanted types follow (or some were
/// missed), read on each notice that a log grew and every [`POLL`], and at
/// once while behind. A page holds at most [`MAX_EVENT_PAGE`] events; a
/// follower slower than the log reads it at its own pace (each read picks
/// up where the last ended).
/// A failing read ends the stream with its error: the client resumes from
/// the last `next` it had.
pub(super) fn follow(
    store: Arc<dyn Store>,
    area: AreaId,
    after: Option<EventId>,
    filter: TypeFilter,
) -> impl Stream<Item = Result<ReplayPage>> + Send + 'static {
    async_stream::stream! {
        let mut logged = store.events().subscribe_logged();
        let first = match after {
            Some(after) => page(store.as_ref(), &area, Some(&after), &filter, PageSize::max()).await,
            None => store.newest_event(&area).await.map(|newest| ReplayPage {
                events: Vec::new(),
                next: newest,
                recovered: true,
                more: false,
            }),
        };
        let (mut cursor, mut more) = match first {
            Ok(first) => {
                let next = (first.next.clone(), first.more);
                yield Ok(first);
                next
            }
            Err(error) => {
                yield Err(error);
                return;
            }
        };
        loop {
            // Behind the log (a page stopped at its bound), read on at once:
            // the subscriber's own pace holds it back (each page is sent
            // before the next is read).
            if !more {
                tokio::select! {
                    changed = logged.changed() => {
                        if changed.is_err() {
                            // The hub is gone with its store: the service stops.
                            return;
                        }
                    }
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            match page(store.as_ref(), &area, cursor.as_ref(), &filter, PageSize::max()).await {
                Ok(next) => {
                    cursor = next.next.clone();
                    more = next.more;
                    if !next.events.is_empty() || !next.recovered {
                        yield Ok(next);
                    }
                }
                Err(error) => {
                    yield Err(error);
                    return;
                }
            }
        }
    }
}

/// Moves up to [`MAX_REDELIVER`] of `area`'s dead letters (those of `sink`,
/// or all) back to their sinks' redelivery queues; how many.
pub(super) async fn redeliver(
    store: &dyn Store,
    area: &AreaId,
    sink: Option<&SinkId>,
) -> Result<usize> {
    store.redeliver(area, sink, MAX_REDELIVER).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;

    use super::*;
    use crate::{
        domain::{Coordinates, DriverId},
        store::{memory::MemoryStore, LogSettings},
    };

    fn logging() -> Arc<dyn Store> {
        Arc::new(
            MemoryStore::new(Duration::from_secs(3600)).with_log(LogSettings {
                enabled: true,
                ..LogSettings::default()
            }),
        )
    }

    /// `n` drivers come online, then go offline: 2n events.
    async fn churn(store: &dyn Store, n: usize) {
        let at = Coordinates::parse(0.0, 0.0).unwrap();
        let ids: Vec<DriverId> = (0..n)
            .map(|i| DriverId::parse(&format!("d{i}")).unwrap())
            .collect();
        for id in &ids {
            store
                .update_location(id, at, Utc::now(), 0.0)
                .await
                .unwrap();
        }
        for id in &ids {
            store.go_offline(id, Utc::now()).await.unwrap();
        }
    }

    fn default_area() -> AreaId {
        AreaId::parse(DEFAULT_AREA).unwrap()
    }

    #[test]
    fn page_sizes_and_filters_refuse_what_names_nothing() {
        assert_eq!(PageSize::parse(None).unwrap(), PageSize(DEFAULT_PAGE));
        assert_eq!(PageSize::parse(Some(1)).unwrap(), PageSize(1));
        assert_eq!(PageSize::parse(Some(1000)).unwrap(), PageSize::max());
        for bad in [0, -1, 1001, i64::MAX, i64::MIN] {
            assert!(PageSize::parse(Some(bad)).is_err(), "{bad}");
        }
        assert!(TypeFilter::parse(Some(vec![])).is_err());
        assert!(TypeFilter::parse(None)
            .unwrap()
            .wants(EventType::RideExpired));
        let one = TypeFilter::parse(Some(vec![EventType::DriverOffline])).unwrap();
        assert!(one.wants(EventType::DriverOffline));
        assert!(!one.wants(EventType::DriverAvailable));
    }

    #[test]
    fn the_area_is_named_or_that_of_after_or_default() {
        let areas = ServiceAreas::everywhere();
        let default = default_area();
        assert_eq!(area_of(&areas, None, None).unwrap(), default);
        let after = EventId::parse("default:ab12:1-0").unwrap();
        assert_eq!(area_of(&areas, None, Some(&after)).unwrap(), default);
        let north = AreaId::parse("north").unwrap();
        let code = |r: Result<AreaId>| r.unwrap_err().code();
        assert_eq!(
            code(area_of(&areas, Some(north.clone()), None)),
            "NOT_FOUND"
        );
        assert_eq!(
            code(area_of(&areas, Some(north), Some(&after))),
            "BAD_USER_INPUT"
        );
        let elsewhere = EventId::parse("north:ab12:1-0").unwrap();
        assert_eq!(code(area_of(&areas, None, Some(&elsewhere))), "NOT_FOUND");
    }

    /// A filter that keeps nothing reads at most [`MAX_READS`] full pages,
    /// then returns none with `next` moved past all it read; the next page
    /// goes on from there.
    #[tokio::test]
    async fn a_filter_reads_a_bounded_number_of_pages_and_moves_on() {
        let store = logging();
        let reads = MAX_READS * MAX_EVENT_PAGE;
        churn(store.as_ref(), reads / 2 + 300).await;
        let area = default_area();
        let nothing = TypeFilter::parse(Some(vec![EventType::RideExpired])).unwrap();
        let first = page(store.as_ref(), &area, None, &nothing, PageSize(10))
            .await
            .unwrap();
        assert!(first.events.is_empty());
        assert!(first.recovered);
        assert!(first.more, "stopped at the bound, not the end");
        let all = store
            .read_events(&area, None, MAX_EVENT_PAGE)
            .await
            .unwrap()
            .events;
        let mut cursor = None;
        for _ in 0..MAX_READS {
            let read = store
                .read_events(&area, cursor.as_ref(), MAX_EVENT_PAGE)
                .await
                .unwrap();
            cursor = read.events.last().map(|e| e.id.clone());
        }
        assert_eq!(first.next, cursor, "moved past {reads} events");
        assert_ne!(first.next, all.last().map(|e| e.id.clone()));

        // The rest: the offline drivers past the bound, wanted this time.
        let offline = TypeFilter::parse(Some(vec![EventType::DriverOffline])).unwrap();
        let rest = page(
            store.as_ref(),
            &area,
            first.next.as_ref(),
            &offline,
            PageSize::max(),
        )
        .await
        .unwrap();
        assert_eq!(rest.events.len(), 600, "the events after the bound");
        assert!(!rest.more, "the end of the log");
        let newest = store.newest_event(&area).await.unwrap();
        assert_eq!(rest.next, newest);
    }

    /// After a position of another epoch with nothing kept, `next` is null
    /// (read from the oldest), not the same position asked again forever.
    #[tokio::test]
    async fn nothing_read_after_a_lost_position_starts_over() {
        let store = logging();
        let area = default_area();
        let lost = EventId::parse("default:zz9:5-0").unwrap();
        let all = TypeFilter::default();
        let got = page(store.as_ref(), &area, Some(&lost), &all, PageSize(5))
            .await
            .unwrap();
        assert!(!got.recovered);
        assert!(got.events.is_empty());
        assert_eq!(got.next, None);
        churn(store.as_ref(), 1).await;
        let got = page(store.as_ref(), &area, None, &all, PageSize(5))
            .await
            .unwrap();
        assert!(got.recovered);
        assert_eq!(got.events.len(), 2);
    }
}
