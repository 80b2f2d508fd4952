//! The memory store's event log: one bounded log per store (one area),
//! appended under the store's lock in the same step as the change, with
//! the same positions (`<ms>-<n>`), cursors, leases and dead letters as
//! the Redis streams.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};

use crate::{
    domain::{AreaId, Coordinates, DriverId, Event, EventId, NewEvent, RideId, RideId as Id, Seq},
    store::{EventPage, EventRetention, SinkId, Trimmed},
};

/// Past this many times the hard cap, an append trims at once (the sweep
/// normally trims first).
const OVERFLOW_FACTOR: usize = 2;

#[derive(Debug)]
pub(super) struct Log {
    pub area: AreaId,
    pub epoch: String,
    events: VecDeque<Event>,
    last: Seq,
    /// The highest position ever removed (a reader after an older one may
    /// have missed events).
    removed_through: Option<Seq>,
    cursors: HashMap<SinkId, EventId>,
    leases: HashMap<SinkId, (String, DateTime<Utc>)>,
    dead: VecDeque<(SinkId, Event)>,
    retry: HashMap<SinkId, VecDeque<Event>>,
    /// The last trim's settings (an overflowing append uses them).
    retention: EventRetention,
    sinks: Vec<SinkId>,
    /// What appends trimmed on their own since the last trim (told with
    /// the next trim's result).
    overflowed: Trimmed,
    /// Assigned drivers not yet reported near their pickup: (ride, pickup).
    pub approach: HashMap<DriverId, (RideId, Coordinates)>,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            area: AreaId::parse(crate::domain::DEFAULT_AREA)
                .unwrap_or_else(|_| unreachable!("the default area id is valid")),
            epoch: Id::new_epoch(),
            events: VecDeque::new(),
            last: Seq::default(),
            removed_through: None,
            cursors: HashMap::new(),
            leases: HashMap::new(),
            dead: VecDeque::new(),
            retry: HashMap::new(),
            retention: EventRetention::default(),
            sinks: Vec::new(),
            overflowed: Trimmed::default(),
            approach: HashMap::new(),
        }
    }
}

impl Log {
    /// Appends an event at `now`; returns it.
    pub fn append(&mut self, event: NewEvent, now: DateTime<Utc>) -> Event {
        let ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        self.last = if ms > self.last.ms {
            Seq { ms, n: 0 }
        } else {
            Seq {
                ms: self.last.ms,
                n: self.last.n + 1,
            }
        };
        let id = EventId {
            area: self.area.clone(),
            epoch: self.epoch.clone(),
            seq: self.last,
        };
        let event = event.logged(id, now);
        self.events.push_back(event.clone());
        if self.events.len() > self.retention.max_events.saturating_mul(OVERFLOW_FACTOR) {
            let (retention, sinks) = (self.retention, self.sinks.clone());
            // (What earlier appends trimmed is carried on in it.)
            self.overflowed = self.trim(&sinks, &retention, now, usize::MAX);
        }
        event
    }

    fn index_after(&self, seq: Seq) -> usize {
        self.events.partition_point(|e| e.id.seq <= seq)
    }

    pub fn read(&self, after: Option<&EventId>, max: usize) -> EventPage {
        let (start, recovered) = match after {
            None => (0, true),
            Some(a) if a.area != self.area || a.epoch != self.epoch => (0, false),
            Some(a) => (
                self.index_after(a.seq),
                self.removed_through.is_none_or(|r| a.seq >= r),
            ),
        };
        EventPage {
            events: self.events.iter().skip(start).take(max).cloned().collect(),
            epoch: Some(self.epoch.clone()),
            recovered,
        }
    }

    /// The newest position written (`None`: nothing yet), even when it
    /// has been trimmed since.
    pub fn newest(&self) -> Option<EventId> {
        (self.last != Seq::default()).then(|| EventId {
            area: self.area.clone(),
            epoch: self.epoch.clone(),
            seq: self.last,
        })
    }

    fn ours(&self, id: &EventId) -> bool {
        id.area == self.area && id.epoch == self.epoch
    }

    pub fn lease(
        &mut self,
        sink: &SinkId,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<Option<EventId>> {
        match self.leases.get(sink) {
            Some((h, expires)) if h != holder && *expires > now => return None,
            _ => {}
        }
        self.leases.insert(sink.clone(), (holder.to_owned(), until));
        Some(self.cursors.get(sink).filter(|c| self.ours(c)).cloned())
    }

    pub fn release(&mut self, sink: &SinkId, holder: &str) {
        if self.leases.get(sink).is_some_and(|(h, _)| h == holder) {
            self.leases.remove(sink);
        }
    }

    pub fn holds(&self, sink: &SinkId, holder: &str, now: DateTime<Utc>) -> bool {
        self.leases
            .get(sink)
            .is_some_and(|(h, expires)| h == holder && *expires > now)
    }

    pub fn acknowledge(&mut self, sink: &SinkId, id: &EventId, dead: &[Event]) {
        let mut dropped = 0;
        // Only what the log still holds (as Redis does): an event trimmed
        // past the cap is in the dead letters already.
        for event in dead {
            if self.holds_event(&event.id) {
                dropped += self.bury(sink, event.clone());
            }
        }
        crate::telemetry::dead_letters_dropped(&self.area, dropped as u64);
        let newer = match self.cursors.get(sink) {
            Some(c) if self.ours(c) && self.ours(id) => c.seq < id.seq,
            _ => true,
        };
        if newer {
            self.cursors.insert(sink.clone(), id.clone());
        }
    }

    fn holds_event(&self, id: &EventId) -> bool {
        self.ours(id)
            && self
                .events
                .binary_search_by(|e| e.id.seq.cmp(&id.seq))
                .is_ok()
    }

    pub fn set_dead_letter_cap(&mut self, cap: usize) {
        self.retention.max_dead_letters = cap;
    }

    fn bury(&mut self, sink: &SinkId, event: Event) -> usize {
        self.dead.push_back((sink.clone(), event));
        let mut dropped = 0;
        while self.dead.len() > self.retention.max_dead_letters.max(1) {
            self.dead.pop_front();
            dropped += 1;
        }
        dropped
    }

    /// The oldest position some sink of `sinks` still lacks (`None`: they
    /// have everything).
    fn floor(&self, sinks: &[SinkId]) -> Option<Seq> {
        let mut floor: Option<Seq> = None;
        for sink in sinks {
            let acked = self
                .cursors
                .get(sink)
                .filter(|c| self.ours(c))
                .map(|c| c.seq);
            let missing = match acked {
                Some(seq) => self.events.get(self.index_after(seq)).map(|e| e.id.seq),
                None => self.events.front().map(|e| e.id.seq),
            };
            if let Some(m) = missing {
                floor = Some(floor.map_or(m, |f| f.min(m)));
            }
        }
        floor
    }

    pub fn trim(
        &mut self,
        sinks: &[SinkId],
        retention: &EventRetention,
        now: DateTime<Utc>,
        budget: usize,
    ) -> Trimmed {
        let cap = self.retention.max_dead_letters;
        self.retention = *retention;
        self.retention.max_dead_letters = cap;
        self.sinks = sinks.to_vec();
        let mut out = std::mem::take(&mut self.overflowed);
        let oldest_kept =
            now - chrono::Duration::from_std(retention.max_age).unwrap_or(chrono::Duration::MAX);
        let floor = self.floor(sinks);
        let mut removed = 0;
        while removed < budget {
            let Some(front) = self.events.front() else {
                break;
            };
            let over_cap = self.events.len() > retention.max_events;
            let delivered = floor.is_none_or(|f| front.id.seq < f);
            if !(over_cap || front.at <= oldest_kept) {
                break;
            }
            if !delivered && !over_cap {
                break;
            }
            let Some(event) = self.events.pop_front() else {
                break;
            };
            self.removed_through = Some(event.id.seq);
            removed += 1;
            if delivered {
                out.trimmed += 1;
                continue;
            }
            out.dead_lettered += 1;
            for sink in sinks {
                let has = self
                    .cursors
                    .get(sink)
                    .filter(|c| self.ours(c))
                    .is_some_and(|c| c.seq >= event.id.seq);
                if !has {
                    out.dead_letters_dropped += self.bury(sink, event.clone());
                }
            }
        }
        out.kept = self.events.len();
        // A log that shrank well below what it once held gives the memory
        // back (a burst, or trimming that fell behind, leaves no high-water
        // mark for good).
        if self.events.capacity() > 4 * self.events.len().max(1024) {
            self.events.shrink_to(2 * self.events.len().max(1024));
        }
        out
    }

    pub fn redeliver(&mut self, sink: Option<&SinkId>, max: usize) -> usize {
        let mut kept = VecDeque::new();
        let mut moved = 0;
        while let Some((s, event)) = self.dead.pop_front() {
            let room =
                self.retry.get(&s).map_or(0, VecDeque::len) < self.retention.max_dead_letters;
            if moved < max && room && sink.is_none_or(|want| *want == s) {
                self.retry.entry(s).or_default().push_back(event);
                moved += 1;
            } else {
                kept.push_back((s, event));
            }
        }
        self.dead = kept;
        moved
    }

    pub fn redeliveries(&self, sink: &SinkId, max: usize) -> Vec<Event> {
        self.retry
            .get(sink)
            .map(|q| q.iter().take(max).cloned().collect())
            .unwrap_or_default()
    }

    /// Moves queued events back to the dead letters.
    pub fn rebury(&mut self, sink: &SinkId, ids: &[EventId]) {
        let back: Vec<Event> = self
            .retry
            .get(sink)
            .map(|q| q.iter().filter(|e| ids.contains(&e.id)).cloned().collect())
            .unwrap_or_default();
        self.redelivered(sink, ids);
        let mut dropped = 0;
        for event in back {
            dropped += self.bury(sink, event);
        }
        crate::telemetry::dead_letters_dropped(&self.area, dropped as u64);
    }

    pub fn redelivered(&mut self, sink: &SinkId, ids: &[EventId]) {
        if let Some(q) = self.retry.get_mut(sink) {
            // A set: a queue of the dead-letter cap's length against a page
            // of ids, under the store's lock, stays linear.
            let done: HashSet<&EventId> = ids.iter().collect();
            q.retain(|e| !done.contains(&e.id));
            if q.is_empty() {
                self.retry.remove(sink);
            }
        }
    }

    pub fn dead_letters(&self) -> usize {
        self.dead.len()
    }
}
