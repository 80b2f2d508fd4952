// The tracking dashboard: plain JavaScript modules, no build step, nothing
// from a CDN. This file wires them together:
//
//   graphql.js  GraphQL over HTTP, the documents, the service's /config
//   socket.js   graphql-transport-ws with reconnects
//   map.js      Web Mercator on a canvas
//   roads.js    the road base map, from the service's --roads
//   model.js    drivers and rides as the subscriptions report them
//   views.js    the page: counters, rides table, dispatch and rider views
//
// Dispatch view (/): a live map of an area fed by the `fleet` subscription,
// a list of rides and counters; click the map to request a ride, a marker
// or a row to select a ride, cancel from the list. Rider view
// (/?ride=ID): follows one ride and its driver.
//
// Events change the model as they arrive; the map is drawn at most once
// per animation frame and the panel at most every PANEL_MS, however many
// events arrive.
//
// URL parameters: token, lat, lng, radius (km): the watched circle; view
// (lat,lng,zoom: kept up to date, so a reload returns to the same view);
// zoom; tiles (a tile URL template, overriding the service's
// --map-tiles; `tiles=` for none); late (seconds a ride may search before
// it is marked, default 60); ride.

import { serviceConfig } from './graphql.js';
import { MapView } from './map.js';
import { Fleet } from './model.js';
import { RoadLayer, showRoadsAttribution } from './roads.js';
import { Socket } from './socket.js';
import { dispatchView, drawPanel, isLate, riderView, showConnection } from './views.js';

const SANTIAGO = { lat: -33.4489, lng: -70.6693 };
const DEFAULT_RADIUS_KM = 15;
const MIN_RADIUS_KM = 0.1;
const DEFAULT_LATE_SECS = 60;
const TOKEN_KEY = 'tracking.token';
const PANEL_MS = 250;
const URL_MS = 400;

const params = new URLSearchParams(location.search);
const number = (v, fallback) => (v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback);

/// The view a URL names (`view=lat,lng,zoom`), or null.
function viewOf(text) {
  const parts = (text || '').split(',').map(Number);
  if (parts.length !== 3 || !parts.every(Number.isFinite)) return null;
  return { center: { lat: parts[0], lng: parts[1] }, zoom: parts[2] };
}

async function main() {
  const config = await serviceConfig();
  if (params.get('token')) localStorage.setItem(TOKEN_KEY, params.get('token'));
  let token = params.get('token') || localStorage.getItem(TOKEN_KEY) || '';
  const center = { lat: number(params.get('lat'), SANTIAGO.lat), lng: number(params.get('lng'), SANTIAGO.lng) };
  const view = viewOf(params.get('view'));
  const tiles = params.has('tiles') ? params.get('tiles') : config.mapTiles || '';
  const map = new MapView(document.getElementById('map'), {
    config,
    center: view ? view.center : center,
    zoom: view ? view.zoom : number(params.get('zoom'), 12),
    tiles,
  });
  if (tiles && config.mapAttribution && tiles === config.mapTiles) {
    const attribution = document.getElementById('attribution');
    attribution.textContent = config.mapAttribution;
    attribution.hidden = false;
  }
  // No tiles: the service's roads, when it has them, as the base map.
  if (!tiles && config.roads) {
    map.roads = new RoadLayer({
      token: () => token,
      onLoad: (answer) => {
        showRoadsAttribution(document.getElementById('attribution'), answer.attribution);
        map.onChange();
      },
    });
  }
  const app = {
    config,
    areas: [],
    fleetSub: null,
    map,
    fleet: new Fleet(map.geo),
    area: { ...center },
    radiusKm: Math.min(config.maxRadiusKm, Math.max(MIN_RADIUS_KM, number(params.get('radius'), DEFAULT_RADIUS_KM))),
    lateMs: number(params.get('late'), DEFAULT_LATE_SECS) * 1000,
    selected: null,
    // Why an action on a ride failed, by ride (shown in its row).
    failures: new Map(),
    // The view was given (or moved by hand): the first snapshot leaves it.
    placed: Boolean(view) || params.has('zoom'),
    token: () => token,
    onCancel: () => {},
    socket: null,
    render: null,
  };
  const socketUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  app.socket = new Socket(socketUrl, { token: app.token, onState: showConnection });

  // The map at most once per frame, the panel at most every PANEL_MS.
  let frame = false;
  let panelAt = 0;
  let panelTimer = null;
  const drawPanelNow = () => {
    panelTimer = null;
    panelAt = performance.now();
    drawPanel(app);
  };
  app.render = ({ panel = false } = {}) => {
    if (panel) drawPanelNow();
    else if (!panelTimer) panelTimer = setTimeout(drawPanelNow, Math.max(0, panelAt + PANEL_MS - performance.now()));
    if (frame) return;
    frame = true;
    requestAnimationFrame(() => {
      frame = false;
      const now = Date.now();
      map.draw({
        area: app.area,
        radiusKm: app.radiusKm,
        drivers: app.fleet.drivers,
        rides: app.fleet.activeRides(),
        areas: app.areas,
        late: (ride) => isLate(app, ride, now),
        selected: app.selected,
      });
    });
  };
  app.select = (id) => {
    app.selected = app.selected === id ? null : id;
    app.render({ panel: true });
    const row = document.querySelector(`#rides tr[data-ride-id="${CSS.escape(id)}"]`);
    if (row) row.scrollIntoView({ block: 'nearest' });
  };
  map.onPick = ({ kind, id }) => {
    if (kind === 'ride') return app.select(id);
    // A driver: its ride (assigned or offered) if it has one.
    const ride = app.fleet.activeRides().find((r) => r.driver?.id === id || r.offer?.driver?.id === id);
    app.select(ride ? ride.id : id);
  };
  // Fit the view to what the first snapshot holds, unless the URL placed it.
  app.fitToFleet = () => {
    const points = [];
    for (const d of app.fleet.drivers.values()) if (d.location) points.push(d.location);
    for (const r of app.fleet.activeRides()) {
      points.push(r.pickup);
      if (r.dropoff) points.push(r.dropoff);
    }
    const clear = { bottom: document.getElementById('map-foot').offsetHeight };
    if (!map.fit(points, clear)) {
      const km = app.radiusKm / map.geo.kmPerDegree;
      map.fit([{ lat: app.area.lat - km, lng: app.area.lng }, { lat: app.area.lat + km, lng: app.area.lng }], clear);
    }
  };
  app.onSnapshot = () => {
    if (app.placed) return;
    app.placed = true;
    app.fitToFleet();
  };
  document.getElementById('fit').addEventListener('click', () => {
    app.placed = true;
    app.fitToFleet();
  });

  // Keep the view in the URL, so that a reload returns to it.
  let urlTimer = null;
  map.onChange = () => {
    app.render();
    clearTimeout(urlTimer);
    urlTimer = setTimeout(() => {
      const url = new URL(location.href);
      url.searchParams.set('view', `${map.center.lat.toFixed(5)},${map.center.lng.toFixed(5)},${map.zoom}`);
      history.replaceState(null, '', url);
    }, URL_MS);
  };
  map.canvas.addEventListener('pointerdown', () => { app.placed = true; });
  map.canvas.addEventListener('wheel', () => { app.placed = true; }, { passive: true });
  setInterval(() => app.render(), 1000);

  document.getElementById('token').value = token;
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    token = document.getElementById('token').value.trim();
    localStorage.setItem(TOKEN_KEY, token);
    app.socket.reconnect();
  });

  // For tests and the curious: the page's state, read-only by convention.
  window.trackingDashboard = app;
  const ride = params.get('ride');
  if (ride) riderView(app, ride);
  else dispatchView(app);
  app.render({ panel: true });
}

main().catch((error) => {
  const notice = document.getElementById('notice');
  notice.textContent = `cannot start: ${error.message}`;
  notice.hidden = false;
});
