// The page: the counters, the rides table, the connection badge, and the
// two views (dispatch and rider), each a set of subscriptions feeding the
// fleet model and asking for a redraw.

import { AREAS, CANCEL_REQUEST, DRIVER_LOCATION, FLEET, REQUEST_DRIVER, RIDE_STATUS, gql } from './graphql.js';
import { isActive } from './model.js';

const ROWS_SHOWN = 200;
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

export function showError(payload) {
  const errors = Array.isArray(payload) ? payload : payload.errors || [payload];
  const e = errors[0] || {};
  $('mode').textContent = `${e.extensions?.code || 'error'}: ${e.message || ''}`;
}

/// The counters and the rides table; `onCancel(id)` for the buttons.
export function drawPanel(fleet, onCancel) {
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

  const body = document.querySelector('#rides tbody');
  body.textContent = '';
  [...fleet.rides.values()]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, ROWS_SHOWN)
    .forEach((ride) => body.appendChild(rideRow(ride, now, onCancel)));
}

function rideRow(ride, now, onCancel) {
  const row = document.createElement('tr');
  row.dataset.rideId = ride.id;
  row.dataset.status = ride.status;
  const cells = [ride.id, ride.status, age(now - Date.parse(ride.createdAt)), ride.driver ? ride.driver.id : ''];
  cells.forEach((text, i) => {
    const td = document.createElement('td');
    if (i === 1) td.className = 'status';
    td.textContent = text;
    // An outstanding offer, with the seconds it has left.
    if (i === 1 && ride.offer) {
      const left = Math.max(0, Math.ceil((Date.parse(ride.offer.expiresAt) - now) / 1000));
      const offer = document.createElement('span');
      offer.className = 'offer';
      offer.textContent = `offered to ${ride.offer.driver ? ride.offer.driver.id : '?'} · ${left}s`;
      td.appendChild(offer);
    }
    row.appendChild(td);
  });
  const td = document.createElement('td');
  if (isActive(ride) && ride.status !== 'IN_PROGRESS') {
    const button = document.createElement('button');
    button.className = 'cancel';
    button.textContent = 'cancel';
    button.onclick = () => onCancel(ride.id);
    td.appendChild(button);
    const follow = document.createElement('a');
    follow.href = `/?ride=${encodeURIComponent(ride.id)}`;
    follow.target = '_blank';
    follow.textContent = ' follow';
    td.appendChild(follow);
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
      alert(`could not request a ride: ${error.message}`);
    }
  };
  app.onCancel = async (id) => {
    try {
      const data = await gql(CANCEL_REQUEST, { id }, app.token());
      app.fleet.applyRide(data.cancelRequest, true);
      app.render();
    } catch (error) {
      alert(`could not cancel: ${error.message}`);
    }
  };
  watchArea(app);
  followAreas(app);
}

/// (Re)subscribes `fleet` for the watched circle.
function watchArea(app) {
  if (app.fleetSub) app.socket.unsubscribe(app.fleetSub);
  app.fleetSub = app.socket.subscribe(FLEET, { lat: app.area.lat, lng: app.area.lng, r: app.radiusKm }, {
    onNext(payload) {
      if (payload.errors) return showError(payload);
      app.fleet.applyFleetEvent(payload.data.fleet, app.area, app.radiusKm);
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
      for (const text of [area.name, area.availableDrivers, area.searchingRides]) {
        const td = document.createElement('td');
        td.textContent = text;
        row.appendChild(td);
      }
      body.appendChild(row);
    }
    app.render();
  };
  picker.addEventListener('change', () => {
    const area = (app.areas || []).find((a) => a.id === picker.value);
    if (!area) return;
    const box = bounds(area.boundary);
    if (!box) return;
    const center = { lat: (box.south + box.north) / 2, lng: (box.west + box.east) / 2 };
    const corner = { lat: box.north, lng: box.east };
    app.area = center;
    app.radiusKm = Math.min(app.config.maxRadiusKm, Math.max(1, app.map.geo.distanceKm(center, corner)));
    app.map.center = { ...center };
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

/// The rider view: one ride (`rideStatus`) and its driver
/// (`driverLocation`), as a rider's phone would follow them.
export function riderView(app, id) {
  $('mode').textContent = 'rider';
  $('rider-panel').hidden = false;
  $('rides-panel').hidden = true;
  $('areas-panel').hidden = true;
  $('counters').hidden = true;
  $('map-help').textContent = 'drag to pan · wheel to zoom';
  $('rider-ride').textContent = id;
  let centred = false;
  const describe = () => {
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
  };
  app.socket.subscribe(RIDE_STATUS, { id }, {
    onNext(payload) {
      if (payload.errors) return showError(payload);
      const ride = payload.data.rideStatus;
      app.fleet.applyRide(ride, centred);
      if (!centred) {
        app.map.center = { ...ride.pickup };
        app.area = { ...ride.pickup };
        app.map.zoom = Math.max(app.map.zoom, 14);
        centred = true;
      }
      describe();
      app.render();
    },
    onError: showError,
  });
  app.socket.subscribe(DRIVER_LOCATION, { id }, {
    onNext(payload) {
      if (payload.errors) return;
      app.fleet.setDriver(payload.data.driverLocation);
      describe();
      app.render();
    },
    onError() {},
  });
}
