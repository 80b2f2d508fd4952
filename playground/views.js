// The page: the counters, the rides table, the connection badge, errors
// where they happened, and the two views (dispatch and rider), each a set
// of subscriptions feeding the fleet model and asking for a redraw.

import { AREAS, CANCEL_REQUEST, DRIVER_LOCATION, FLEET, PICKUP_ROUTE, REQUEST_DRIVER, RIDE_STATUS, gql } from './graphql.js';
import { isActive } from './model.js';

const ROWS_SHOWN = 200;
/// How often the rider view asks for the car's road route anew, at most.
const ROUTE_MS = 5000;
const NOTICE_MS = 8000;
const $ = (id) => document.getElementById(id);

function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function showConnection(state) {
  const badge = $('status');
  badge.dataset.state = state;
  badge.textContent = state === 'refused' ? 'refused: check the token' : state;
}

/// Shows `message` in the element `id` (next to what failed) for a while.
export function notify(id, message) {
  const element = $(id);
  element.textContent = message;
  element.hidden = false;
  clearTimeout(element.timer);
  element.timer = setTimeout(() => { element.hidden = true; }, NOTICE_MS);
}

/// A GraphQL error payload (or an Error), as one line.
function describe(payload) {
  if (payload instanceof Error) return payload.message;
  const errors = Array.isArray(payload) ? payload : payload.errors || [payload];
  const e = errors[0] || {};
  return `${e.extensions?.code || 'error'}: ${e.message || ''}`;
}

/// A subscription's error, in the header beside the connection state.
export function showError(payload) {
  notify('notice', describe(payload));
}

/// Whether a ride has searched longer than `app.lateMs`.
export function isLate(app, ride, now = Date.now()) {
  return ride.status === 'SEARCHING' && now - Date.parse(ride.createdAt) > app.lateMs;
}

/// Whether a ride matches the filter text (its id, rider or driver).
function matches(ride, text) {
  if (!text) return true;
  const ids = [ride.id, ride.riderId, ride.driver?.id, ride.offer?.driver?.id];
  return ids.some((id) => id && id.toLowerCase().includes(text));
}

/// The counters and the rides table: rides searching too long first, then
/// the newest; only those the filter matches.
export function drawPanel(app) {
  const fleet = app.fleet;
  const now = Date.now();
  const c = fleet.counts(now);
  $('n-available').textContent = c.available;
  $('n-offered').textContent = c.offered;
  $('n-assigned').textContent = c.assigned;
  $('n-searching').textContent = c.searching;
  $('n-matched').textContent = c.matched;
  $('n-completed').textContent = c.completed;
  $('n-expired').textContent = c.expired;
  $('n-accepted').textContent = c.offers.ACCEPTED;
  $('n-declined').textContent = c.offers.DECLINED;
  $('n-timed-out').textContent = c.offers.TIMED_OUT;
  $('acceptance').textContent = c.acceptance === undefined ? '–' : `${Math.round(c.acceptance * 100)}%`;
  $('n-per-minute').textContent = c.perMinute;
  $('median-match').textContent =
    c.medianWaitMs === undefined ? '–' : c.medianWaitMs < 1000 ? `${c.medianWaitMs}ms` : age(c.medianWaitMs);

  const text = $('filter').value.trim().toLowerCase();
  const body = document.querySelector('#rides tbody');
  const rows = [...fleet.rides.values()]
    .filter((ride) => matches(ride, text))
    .map((ride) => ({ ride, late: isLate(app, ride, now) }))
    .sort((a, b) => (b.late - a.late) || Date.parse(b.ride.createdAt) - Date.parse(a.ride.createdAt))
    .slice(0, ROWS_SHOWN);
  body.textContent = '';
  for (const { ride, late } of rows) body.appendChild(rideRow(app, ride, late, now));
}

function cell(row, text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  td.title = text;
  row.appendChild(td);
  return td;
}

function rideRow(app, ride, late, now) {
  const row = document.createElement('tr');
  row.dataset.rideId = ride.id;
  row.dataset.status = ride.status;
  if (late) row.classList.add('late');
  if (app.selected === ride.id) row.classList.add('selected');
  row.onclick = (e) => {
    if (e.target.closest('button, a')) return;
    app.select(ride.id);
  };
  cell(row, ride.id);
  const words = ride.status.replace('_', ' ');
  const status = cell(row, late ? `${words} · long` : words, 'status');
  // An outstanding offer, with the seconds it has left.
  if (ride.offer) {
    const left = Math.max(0, Math.ceil((Date.parse(ride.offer.expiresAt) - now) / 1000));
    const offer = document.createElement('span');
    offer.className = 'offer';
    offer.textContent = `offered to ${ride.offer.driver ? ride.offer.driver.id : '?'} · ${left}s`;
    status.appendChild(offer);
  }
  cell(row, age(now - Date.parse(ride.createdAt)));
  cell(row, ride.driver ? ride.driver.id : '');
  const td = document.createElement('td');
  td.className = 'actions';
  const actions = document.createElement('span');
  actions.className = 'row';
  if (isActive(ride) && ride.status !== 'IN_PROGRESS') {
    const button = document.createElement('button');
    button.className = 'cancel';
    button.textContent = 'cancel';
    button.onclick = () => app.onCancel(ride.id);
    actions.appendChild(button);
    const follow = document.createElement('a');
    follow.href = `/?ride=${encodeURIComponent(ride.id)}`;
    follow.target = '_blank';
    follow.textContent = '↗';
    follow.title = 'follow: the rider view';
    follow.setAttribute('aria-label', 'follow in the rider view');
    actions.appendChild(follow);
  }
  td.appendChild(actions);
  const failed = app.failures.get(ride.id);
  if (failed) {
    const note = document.createElement('span');
    note.className = 'note error';
    note.setAttribute('role', 'alert');
    note.textContent = failed;
    td.appendChild(note);
  }
  row.appendChild(td);
  return row;
}

/// The dispatch view: the `fleet` of the watched area; a click on the map
/// requests a ride there, a button cancels one.
export function dispatchView(app) {
  let requested = 0;
  app.map.onClick = async (at) => {
    requested += 1;
    try {
      const data = await gql(REQUEST_DRIVER, { r: `dashboard-${requested}`, lat: at.lat, lng: at.lng }, app.token());
      app.fleet.applyRide(data.requestDriver, true);
      app.render();
    } catch (error) {
      notify('map-error', `could not request a ride here: ${describe(error)}`);
    }
  };
  app.onCancel = async (id) => {
    try {
      const data = await gql(CANCEL_REQUEST, { id }, app.token());
      app.failures.delete(id);
      app.fleet.applyRide(data.cancelRequest, true);
    } catch (error) {
      app.failures.set(id, `could not cancel: ${describe(error)}`);
    }
    app.render({ panel: true });
  };
  $('filter').addEventListener('input', () => app.render({ panel: true }));
  watchArea(app);
  followAreas(app);
}

/// (Re)subscribes `fleet` for the watched circle.
function watchArea(app) {
  if (app.fleetSub) app.socket.unsubscribe(app.fleetSub);
  app.fleetSub = app.socket.subscribe(FLEET, { lat: app.area.lat, lng: app.area.lng, r: app.radiusKm }, {
    onNext(payload) {
      if (payload.errors) return showError(payload);
      const event = payload.data.fleet;
      app.fleet.applyFleetEvent(event, app.area, app.radiusKm);
      if (event.kind === 'SNAPSHOT') app.onSnapshot();
      app.render();
    },
    onError: showError,
  });
}

const AREAS_EVERY_MS = 5000;

/// The service areas: outlines on the map, a picker that watches one, and
/// each area's counts (read every few seconds).
function followAreas(app) {
  const picker = $('area-picker');
  let listed = false;
  const refresh = async () => {
    let areas;
    try {
      areas = (await gql(AREAS, {}, app.token())).areas;
    } catch (error) {
      return;
    }
    app.areas = areas;
    if (!listed) {
      listed = true;
      picker.textContent = '';
      const here = document.createElement('option');
      here.value = '';
      here.textContent = 'the circle on the map';
      picker.appendChild(here);
      for (const area of areas) {
        const option = document.createElement('option');
        option.value = area.id;
        option.textContent = `${area.name} (${area.id})`;
        picker.appendChild(option);
      }
    }
    const body = $('area-counts');
    body.textContent = '';
    for (const area of areas) {
      const row = document.createElement('tr');
      row.dataset.areaId = area.id;
      for (const text of [area.name, area.availableDrivers, area.searchingRides, batchText(area)]) cell(row, String(text));
      body.appendChild(row);
    }
    app.render();
  };
  // An area's batches: its window and what the last one matched ("—" greedy).
  function batchText(area) {
    if (!area.matchWindowSeconds) return '—';
    const last = area.lastBatch ? ` · ${area.lastBatch.matched}/${area.lastBatch.rides}` : '';
    return `${area.matchWindowSeconds}s${last}`;
  }
  picker.addEventListener('change', () => {
    const area = (app.areas || []).find((a) => a.id === picker.value);
    if (!area) return;
    const box = bounds(area.boundary);
    if (!box) return;
    const center = { lat: (box.south + box.north) / 2, lng: (box.west + box.east) / 2 };
    const corner = { lat: box.north, lng: box.east };
    app.area = center;
    app.radiusKm = Math.min(app.config.maxRadiusKm, Math.max(1, app.map.geo.distanceKm(center, corner)));
    app.map.fit([{ lat: box.south, lng: box.west }, { lat: box.north, lng: box.east }], { bottom: $('map-foot').offsetHeight });
    app.fleet.forgetArea();
    watchArea(app);
    app.render();
  });
  refresh();
  setInterval(refresh, AREAS_EVERY_MS);
}

/// The bounding box of a GeoJSON Polygon or MultiPolygon.
function bounds(geometry) {
  if (!geometry || !geometry.coordinates) return null;
  const polygons = geometry.type === 'MultiPolygon' ? geometry.coordinates : [geometry.coordinates];
  const box = { south: 90, north: -90, west: 180, east: -180 };
  for (const polygon of polygons) {
    for (const ring of polygon) {
      for (const [lng, lat] of ring) {
        box.south = Math.min(box.south, lat);
        box.north = Math.max(box.north, lat);
        box.west = Math.min(box.west, lng);
        box.east = Math.max(box.east, lng);
      }
    }
  }
  return box.south <= box.north ? box : null;
}

const PHASES = ['SEARCHING', 'DRIVER_FOUND', 'ARRIVED', 'IN_PROGRESS', 'COMPLETED'];

/// The rider view: one ride (`rideStatus`) and its driver
/// (`driverLocation`), as a rider's phone would follow them: the phase,
/// where the car is and how far, and the phases to come.
export function riderView(app, id) {
  $('mode').textContent = 'rider';
  document.title = 'tracking — your ride';
  $('rider-panel').hidden = false;
  $('rides-panel').hidden = true;
  $('areas-panel').hidden = true;
  $('counters').hidden = true;
  $('legend').hidden = true;
  $('map-help').textContent = 'drag to pan · wheel to zoom';
  $('rider-ride').textContent = id;
  $('rider-ride').title = id;
  app.map.onPick = null;
  app.map.onClick = null;
  let centred = false;
  // The car's time to the pickup: as matched, then as each of its moves says.
  let etaSeconds = null;
  let routeAt = 0;
  let routing = false;
  // The road route from the car to the pickup, asked again as the car
  // moves (at most every ROUTE_MS, one request at a time).
  const refreshRoute = async () => {
    if (routing || Date.now() - routeAt < ROUTE_MS) return;
    routing = true;
    routeAt = Date.now();
    try {
      const data = await gql(PICKUP_ROUTE, { id }, app.token());
      const ride = app.fleet.rides.get(id);
      if (ride && data.ride && data.ride.status === ride.status) ride.pickupRoute = data.ride.pickupRoute;
      app.render();
    } catch {
      // The route is a drawing aid: the last one stays.
    } finally {
      routing = false;
    }
  };
  const describeRide = () => {
    const ride = app.fleet.rides.get(id);
    if (!ride) return;
    $('rider-status').textContent = ride.status.replace('_', ' ');
    $('rider-status').dataset.status = ride.status;
    const driver = ride.driver && app.fleet.drivers.get(ride.driver.id);
    const away = driver && driver.location
      ? `driver ${driver.id}, ${app.map.geo.distanceKm(driver.location, ride.pickup).toFixed(2)} km away`
      : 'a driver is on the way';
    // What a rider's phone says.
    $('rider-driver').textContent = {
      SEARCHING: 'looking for a driver…',
      DRIVER_FOUND: `driver on the way: ${away}`,
      ARRIVED: 'your driver has arrived',
      IN_PROGRESS: 'on the trip',
      COMPLETED: 'done: thank you for riding',
      CANCELLED: 'cancelled',
      EXPIRED: 'no driver was found',
    }[ride.status] || '';
    const now = PHASES.indexOf(ride.status);
    for (const li of document.querySelectorAll('#rider-phases li')) {
      const phase = PHASES.indexOf(li.dataset.phase);
      li.classList.toggle('done', now >= 0 && phase < now);
      li.classList.toggle('now', phase === now);
    }
    $('rider-phases').hidden = now < 0;
    const eta = $('rider-eta');
    eta.hidden = ride.status !== 'DRIVER_FOUND' || etaSeconds === null;
    eta.dataset.seconds = etaSeconds === null ? '' : String(etaSeconds);
    eta.textContent = etaSeconds === null ? '' : `arrives in ${etaSeconds < 60 ? 'under a minute' : `about ${Math.round(etaSeconds / 60)} min`}`;
  };
  app.socket.subscribe(RIDE_STATUS, { id }, {
    onNext(payload) {
      if (payload.errors) return showError(payload);
      const ride = payload.data.rideStatus;
      if (ride.status === 'DRIVER_FOUND' && etaSeconds === null) etaSeconds = ride.pickupEtaSeconds ?? null;
      if (ride.pickupRoute) routeAt = Date.now();
      app.fleet.applyRide(ride, centred);
      if (!centred) {
        app.area = { ...ride.pickup };
        app.map.center = { ...ride.pickup };
        app.map.zoom = Math.max(app.map.zoom, 15);
        centred = true;
      }
      describeRide();
      app.render();
    },
    onError: showError,
  });
  app.socket.subscribe(DRIVER_LOCATION, { id }, {
    onNext(payload) {
      if (payload.errors) return;
      const driver = payload.data.driverLocation;
      const first = !app.fleet.drivers.has(driver.id);
      app.fleet.setDriver(driver);
      const ride = app.fleet.rides.get(id);
      if (driver.pickupEtaSeconds !== null && driver.pickupEtaSeconds !== undefined) etaSeconds = driver.pickupEtaSeconds;
      if (ride && ride.status === 'DRIVER_FOUND' && ride.pickupRoute) refreshRoute();
      // The car and the pickup both in view, once the car shows up.
      if (first && ride && driver.location) app.map.fit([ride.pickup, driver.location], { bottom: $('map-foot').offsetHeight });
      describeRide();
      app.render();
    },
    onError() {},
  });
}
