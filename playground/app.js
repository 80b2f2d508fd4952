// The tracking dashboard: plain JavaScript modules, no build step, nothing
// from a CDN. This file wires them together:
//
//   graphql.js  GraphQL over HTTP, the documents, the service's /config
//   socket.js   graphql-transport-ws with reconnects
//   map.js      Web Mercator on SVG
//   model.js    drivers and rides as the subscriptions report them
//   views.js    the page: counters, rides table, dispatch and rider views
//
// Dispatch view (/): a live map of an area fed by the `fleet` subscription,
// a list of rides and counters; click the map to request a ride, cancel
// from the list. Rider view (/?ride=ID): follows one ride and its driver.
//
// URL parameters: token, lat, lng, radius (km), zoom, tiles (a tile URL
// template such as https://tiles.example/{z}/{x}/{y}.png; off by default),
// ride.

import { serviceConfig } from './graphql.js';
import { MapView } from './map.js';
import { Fleet } from './model.js';
import { Socket } from './socket.js';
import { dispatchView, drawPanel, riderView, showConnection } from './views.js';

const SANTIAGO = { lat: -33.4489, lng: -70.6693 };
const DEFAULT_RADIUS_KM = 15;
const MIN_RADIUS_KM = 0.1;
const TOKEN_KEY = 'tracking.token';

const params = new URLSearchParams(location.search);
const number = (v, fallback) => (v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback);

async function main() {
  const config = await serviceConfig();
  if (params.get('token')) localStorage.setItem(TOKEN_KEY, params.get('token'));
  let token = params.get('token') || localStorage.getItem(TOKEN_KEY) || '';
  const center = { lat: number(params.get('lat'), SANTIAGO.lat), lng: number(params.get('lng'), SANTIAGO.lng) };
  const map = new MapView(document.getElementById('map'), {
    config,
    center,
    zoom: number(params.get('zoom'), 12),
    tiles: params.get('tiles') || '',
  });
  const app = {
    config,
    areas: [],
    fleetSub: null,
    map,
    fleet: new Fleet(map.geo),
    area: { ...center },
    radiusKm: Math.min(config.maxRadiusKm, Math.max(MIN_RADIUS_KM, number(params.get('radius'), DEFAULT_RADIUS_KM))),
    token: () => token,
    onCancel: () => {},
    socket: null,
    render: null,
  };
  const socketUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  app.socket = new Socket(socketUrl, { token: app.token, onState: showConnection });

  // One redraw per frame, however many events arrive.
  let scheduled = false;
  app.render = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      map.draw({
        area: app.area,
        radiusKm: app.radiusKm,
        drivers: app.fleet.drivers,
        rides: app.fleet.activeRides(),
        areas: app.areas,
      });
      drawPanel(app.fleet, app.onCancel);
    });
  };
  map.onChange = app.render;
  setInterval(() => drawPanel(app.fleet, app.onCancel), 1000);

  document.getElementById('token').value = token;
  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    token = document.getElementById('token').value.trim();
    localStorage.setItem(TOKEN_KEY, token);
    app.socket.reconnect();
  });

  const ride = params.get('ride');
  if (ride) riderView(app, ride);
  else dispatchView(app);
  app.render();
}

main().catch((error) => {
  document.getElementById('mode').textContent = `cannot start: ${error.message}`;
});
