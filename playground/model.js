// What the dashboard knows of the fleet: drivers and rides by id, and the
// matches it saw happen, for the counters. No DOM here.

const MATCHES_KEPT = 500;
const ACTIVE = new Set(['SEARCHING', 'DRIVER_FOUND', 'ARRIVED', 'IN_PROGRESS']);
const STAGES = ['SEARCHING', 'DRIVER_FOUND', 'ARRIVED', 'IN_PROGRESS'];

/// How far along a ride is: it only ever moves forward.
function stage(status) {
  const i = STAGES.indexOf(status);
  return i < 0 ? STAGES.length : i;
}

/// Whether a driver is assigned to the ride and the ride has not ended.
export function hasDriver(ride) {
  return ride.status === 'DRIVER_FOUND' || ride.status === 'ARRIVED' || ride.status === 'IN_PROGRESS';
}

export function isActive(ride) {
  return ACTIVE.has(ride.status);
}

export class Fleet {
  constructor(geo) {
    this.geo = geo;
    this.drivers = new Map();
    this.rides = new Map();
    this.matches = [];
    this.expired = 0;
    this.completed = 0;
    this.offers = { ACCEPTED: 0, DECLINED: 0, TIMED_OUT: 0, WITHDRAWN: 0 };
  }

  /// Records a ride. `live`: the change happened now (an event), not before
  /// the page opened (a snapshot); only live changes count toward the rates.
  applyRide(ride, live) {
    const before = this.rides.get(ride.id);
    // An answer that arrives after a newer event (the mutation's reply
    // after the subscription's match) is stale.
    if (before && stage(ride.status) < stage(before.status)) return;
    // A match: the ride had no driver, now it has one (CHANGES may carry
    // a ride already past DRIVER_FOUND, when it moved on within one
    // interval).
    const matchedNow = hasDriver(ride) || (ride.status === 'COMPLETED' && ride.driver);
    // The wait is the ride's own (both times on the service's clock), not
    // when this page heard of the match.
    const waitedMs = Date.parse(ride.matchedAt) - Date.parse(ride.createdAt);
    if (live && matchedNow && (!before || before.status === 'SEARCHING') && Number.isFinite(waitedMs)) {
      this.matches.push({ at: Date.now(), waitedMs });
      if (this.matches.length > MATCHES_KEPT) this.matches.shift();
    }
    if (live && ride.status === 'EXPIRED' && (!before || before.status !== 'EXPIRED')) this.expired += 1;
    if (live && ride.status === 'COMPLETED' && (!before || before.status !== 'COMPLETED')) this.completed += 1;
    // An offer seen before and gone now (or made to another driver) ended
    // as `lastOfferEnd` says; each ride's events arrive in order.
    const offered = (r) => r && r.offer && r.offer.driver ? r.offer.driver.id : null;
    if (live && offered(before) && offered(before) !== offered(ride) && ride.lastOfferEnd in this.offers) {
      this.offers[ride.lastOfferEnd] += 1;
    }
    this.rides.set(ride.id, ride);
    if (ride.driver && ride.driver.location && !this.drivers.has(ride.driver.id)) {
      this.drivers.set(ride.driver.id, ride.driver);
    }
  }

  setDriver(driver) {
    this.drivers.set(driver.id, driver);
  }

  /// Applies one `fleet` event of the area within `radiusKm` of `area`: a
  /// SNAPSHOT replaces what was known of the area's drivers and active
  /// rides; CHANGES (or DRIVER and RIDE, from a service sending each change)
  /// update the drivers and rides they carry.
  applyFleetEvent(event, area, radiusKm) {
    if (event.kind === 'SNAPSHOT') {
      this.drivers.clear();
      for (const [id, ride] of this.rides) if (isActive(ride)) this.rides.delete(id);
    }
    for (const driver of event.drivers) {
      const inside = driver.location && this.geo.distanceKm(area, driver.location) <= radiusKm;
      if (inside || driver.status === 'ASSIGNED' || driver.status === 'OFFERED') this.drivers.set(driver.id, driver);
      else this.drivers.delete(driver.id);
    }
    for (const ride of event.rides) this.applyRide(ride, event.kind !== 'SNAPSHOT');
  }

  /// Forgets what was known of the watched area (a new one is watched:
  /// its SNAPSHOT follows).
  forgetArea() {
    this.drivers.clear();
    for (const [id, ride] of this.rides) if (isActive(ride)) this.rides.delete(id);
  }

  activeRides() {
    return [...this.rides.values()].filter(isActive);
  }

  /// The counters' figures at `now`.
  counts(now) {
    const drivers = [...this.drivers.values()];
    const rides = [...this.rides.values()];
    const count = (list, value) => list.filter((x) => x.status === value).length;
    const waits = this.matches.map((m) => m.waitedMs).sort((a, b) => a - b);
    const answered = this.offers.ACCEPTED + this.offers.DECLINED + this.offers.TIMED_OUT;
    return {
      available: count(drivers, 'AVAILABLE'),
      offered: count(drivers, 'OFFERED'),
      assigned: count(drivers, 'ASSIGNED'),
      searching: count(rides, 'SEARCHING'),
      matched: rides.filter(hasDriver).length,
      expired: this.expired,
      completed: this.completed,
      offers: { ...this.offers },
      acceptance: answered === 0 ? undefined : this.offers.ACCEPTED / answered,
      perMinute: this.matches.filter((m) => now - m.at < 60000).length,
      medianWaitMs: waits[Math.floor(waits.length / 2)],
    };
  }
}
