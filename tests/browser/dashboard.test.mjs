// The dashboard in a real browser: Debian's headless Chromium, driven by
// playwright-core. Starts the service binary on a free port, puts drivers on
// the map through the API, requests a ride by clicking on the map, sees it
// matched in the page, cancels another from the list, follows a ride in the
// rider view through every phase, checks the layout at a desktop's and a
// phone's size (nothing overlaps, ids never wrap), the view fitting the
// fleet, rides searching long marked first, the filter, selection, and a
// tile server's tiles; saves screenshots under target/.
//
// The map is a canvas: what it drew is read from the page's own record of
// its last frame (window.trackingDashboard.map.drawn).
//
// TRACKING_BIN names the binary (default: target/debug/tracking);
// CHROMIUM the browser (default: /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { WAIT, gql as gqlAt, root, startService } from '../support/service.mjs';

const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = resolve(root, 'target');
const CENTER = { lat: -33.4489, lng: -70.6693 };

let service;
let base;
let browser;
let proxy;

// A TCP proxy on a port of the test's own, in front of whichever service
// runs now: a restarted service gets a fresh free port, while the page keeps
// talking to the same address (no port is ever given up and taken again).
function startProxy() {
  const state = { target: null, sockets: new Set() };
  const server = net.createServer((client) => {
    if (!state.target) return client.destroy();
    const upstream = net.connect(state.target.port, state.target.host);
    for (const s of [client, upstream]) {
      state.sockets.add(s);
      s.on('close', () => state.sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolveProxy) => {
    server.listen(0, '127.0.0.1', () => {
      resolveProxy({
        url: `http://127.0.0.1:${server.address().port}`,
        point(url) { const u = new URL(url); state.target = { host: u.hostname, port: Number(u.port) }; },
        cut() { state.target = null; for (const s of state.sockets) s.destroy(); },
        close() { this.cut(); server.close(); },
      });
    });
  });
}

const gql = (query, variables = {}, at = base) => gqlAt(at, query, variables);

/// Waits until the map's last frame drew `id` among `kind` (drivers,
/// pickups, dropoffs), with `status` when given.
const drawn = (page, kind, id, status) => page.waitForFunction(
  ([k, i, s]) => {
    const marker = window.trackingDashboard?.map.drawn[k].get(i);
    return Boolean(marker) && (!s || marker.status === s);
  },
  [kind, id, status],
  { timeout: WAIT },
);
/// Waits until the map's last frame drew a line of `kind` (offer, link,
/// trip).
const line = (page, kind) => page.waitForFunction(
  (k) => window.trackingDashboard?.map.drawn.lines.some((l) => l.kind === k),
  kind,
  { timeout: WAIT },
);

/// Waits until the rider view marks `status` as the phase now, and the
/// phases before it as done.
const phase = (page, status) => page.waitForFunction(
  (s) => {
    const items = [...document.querySelectorAll('#rider-phases li')];
    const now = items.findIndex((li) => li.classList.contains('now'));
    return now >= 0 && items[now].dataset.phase === s && items.slice(0, now).every((li) => li.classList.contains('done'));
  },
  status,
  { timeout: WAIT },
);

/// What is wrong with the page's layout: visible elements of the header,
/// the map's overlays, the panel's sections and the counters that overlap
/// one another; ids that wrap (or are cut without their full text on
/// hover); a page wider than the window.
const layoutProblems = (page) => page.evaluate(() => {
  const problems = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && style.visibility !== 'hidden' && style.display !== 'none';
  };
  const name = (el) => el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}.${el.className}`;
  const groups = [
    document.querySelectorAll('header > *'),
    document.querySelectorAll('#map-foot > *'),
    document.querySelectorAll('#side > section'),
    document.querySelectorAll('#counters > div'),
    [document.getElementById('map-pane'), document.getElementById('side')],
  ];
  for (const group of groups) {
    const shown = [...group].filter(visible);
    for (let i = 0; i < shown.length; i++) {
      for (let j = i + 1; j < shown.length; j++) {
        const a = shown[i].getBoundingClientRect();
        const b = shown[j].getBoundingClientRect();
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        if (w > 1 && h > 1) problems.push(`${name(shown[i])} overlaps ${name(shown[j])}`);
      }
    }
  }
  for (const td of document.querySelectorAll('#rides tbody td:nth-child(1), #rides tbody td:nth-child(4), #rider-ride')) {
    if (!td.textContent) continue;
    const range = document.createRange();
    range.selectNodeContents(td);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (lines.size > 1) problems.push(`${td.textContent} wraps`);
    if (td.scrollWidth > td.clientWidth && td.title !== td.textContent) problems.push(`${td.textContent} is cut with no title`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) problems.push(`the page is ${document.documentElement.scrollWidth} px wide in ${window.innerWidth}`);
  return problems;
});

const updateLocation = (id, lat, lng) =>
  gql('mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }', { d: id, lat, lng });

before(async () => {
  const started = await startService();
  service = started.child;
  proxy = await startProxy();
  proxy.point(started.url);
  base = proxy.url;
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  if (service) service.kill('SIGTERM');
  if (proxy) proxy.close();
});

test('the dashboard shows drivers, matches a ride requested by a click, and cancels another', async () => {
  const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  await page.goto(`${base}/?lat=${CENTER.lat}&lng=${CENTER.lng}&zoom=14`);
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });

  // Drivers appear through the API, live.
  await updateLocation('near', CENTER.lat + 0.002, CENTER.lng + 0.002);
  await updateLocation('second', CENTER.lat - 0.004, CENTER.lng + 0.003);
  await drawn(page, 'drivers', 'near');
  await drawn(page, 'drivers', 'second');
  await page.locator('#n-available', { hasText: /^2$/ }).waitFor({ timeout: WAIT });

  // Click the map's centre: a ride is requested there and matched at once.
  const map = page.locator('#map');
  const box = await map.boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const matched = page.locator('#rides tr[data-status="DRIVER_FOUND"]');
  await matched.first().waitFor({ timeout: WAIT });
  assert.equal(await matched.first().locator('td').nth(3).textContent(), 'near', 'the nearest driver');
  await drawn(page, 'drivers', 'near', 'ASSIGNED');
  await line(page, 'link');

  // A ride far from every driver keeps searching; cancel it from the list.
  const far = await gql('mutation { requestDriver(riderId: "far", lat: -33.52, lng: -70.60) { id } }');
  const farId = far.requestDriver.id;
  const row = page.locator(`#rides tr[data-ride-id="${farId}"]`);
  await row.and(page.locator('[data-status="SEARCHING"]')).waitFor({ timeout: WAIT });
  await row.locator('button.cancel').click();
  await page.locator(`#rides tr[data-ride-id="${farId}"][data-status="CANCELLED"]`).waitFor({ timeout: WAIT });
  const after = await gql('query($id: ID!) { ride(id: $id) { status } }', { id: farId });
  assert.equal(after.ride.status, 'CANCELLED');

  await page.screenshot({ path: resolve(shots, 'dashboard.png') });
  assert.deepEqual(problems, [], 'no errors in the page (nor a missing favicon)');
  const icon = await fetch(`${base}/favicon.ico`);
  assert.equal(icon.status, 200);
  assert.equal(icon.headers.get('content-type'), 'image/svg+xml');
  await page.close();
});

test('the rider view follows a car to the pickup', async () => {
  await updateLocation('car', CENTER.lat + 0.03, CENTER.lng);
  const ride = await gql(`mutation { requestDriver(riderId: "ana", lat: ${CENTER.lat + 0.025}, lng: ${CENTER.lng}) { id } }`);
  const id = ride.requestDriver.id;
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await page.goto(`${base}/?ride=${id}`);
  await page.locator('#rider-status', { hasText: 'DRIVER FOUND' }).waitFor({ timeout: WAIT });
  await drawn(page, 'drivers', 'car');
  const before = await page.locator('#rider-driver').textContent();
  await updateLocation("car", CENTER.lat + 0.0285, CENTER.lng);
  await page.waitForFunction(
    (text) => document.querySelector('#rider-driver').textContent !== text,
    before,
    { timeout: WAIT },
  );
  assert.match(await page.locator('#rider-driver').textContent(), /car, 0\.\d+ km away/);
  await page.screenshot({ path: resolve(shots, 'rider.png') });
  await page.close();
});

test('offers and the trip phases show on the map, in the list, the counters and the rider view', async () => {
  const offering = await startService(['--offer-timeout', '30s']);
  const at = offering.url;
  const rideOp = (op, id) => gql(`mutation($id: ID!) { ${op}(rideId: $id) { status } }`, { id }, at);
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    const problems = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${at}/?lat=${CENTER.lat}&lng=${CENTER.lng}&zoom=14`);
    await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
    await gql('mutation { updateLocation(driverId: "cab", lat: -33.4469, lng: -70.6673) { id } }', {}, at);
    await drawn(page, 'drivers', 'cab', 'AVAILABLE');

    const requested = await gql(
      `mutation { requestDriver(riderId: "ana", lat: ${CENTER.lat}, lng: ${CENTER.lng}, dropoff: {lat: ${CENTER.lat - 0.01}, lng: ${CENTER.lng - 0.01}}) { id } }`,
      {}, at,
    );
    const id = requested.requestDriver.id;
    const rider = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await rider.goto(`${at}/?ride=${id}`);
    await rider.locator('#rider-driver', { hasText: 'looking for a driver' }).waitFor({ timeout: WAIT });
    await phase(rider, 'SEARCHING');

    // Offered: the driver turns OFFERED, the row counts the offer down.
    await drawn(page, 'drivers', 'cab', 'OFFERED');
    const row = page.locator(`#rides tr[data-ride-id="${id}"]`);
    await row.locator('span.offer', { hasText: /offered to cab · \d+s/ }).waitFor({ timeout: WAIT });
    await line(page, 'offer');

    // Accepted, arrived, on the trip, done: each phase drawn and listed.
    await rideOp('acceptOffer', id);
    await page.locator(`#rides tr[data-ride-id="${id}"][data-status="DRIVER_FOUND"]`).waitFor({ timeout: WAIT });
    await drawn(page, 'drivers', 'cab', 'ASSIGNED');
    await line(page, 'link');
    await rider.locator('#rider-driver', { hasText: /driver on the way: driver cab, \d+\.\d+ km away/ }).waitFor({ timeout: WAIT });
    await phase(rider, 'DRIVER_FOUND');
    await rideOp('driverArrived', id);
    await drawn(page, 'pickups', id, 'ARRIVED');
    await rider.locator('#rider-driver', { hasText: 'your driver has arrived' }).waitFor({ timeout: WAIT });
    await phase(rider, 'ARRIVED');
    await rideOp('startTrip', id);
    await page.locator(`#rides tr[data-ride-id="${id}"][data-status="IN_PROGRESS"]`).waitFor({ timeout: WAIT });
    await drawn(page, 'dropoffs', id);
    await line(page, 'trip');
    await rider.locator('#rider-driver', { hasText: 'on the trip' }).waitFor({ timeout: WAIT });
    await phase(rider, 'IN_PROGRESS');
    assert.deepEqual(await layoutProblems(rider), [], 'the rider view at 390 px');
    await rider.screenshot({ path: resolve(shots, 'rider-phone.png'), fullPage: true });
    await page.screenshot({ path: resolve(shots, 'dashboard-trip.png') });
    await rideOp('completeRide', id);
    await page.locator(`#rides tr[data-ride-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: WAIT });
    await rider.locator('#rider-driver', { hasText: 'done' }).waitFor({ timeout: WAIT });
    await phase(rider, 'COMPLETED');
    await page.locator('#n-completed', { hasText: '1' }).waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#n-accepted').textContent(), '1');
    assert.equal(await page.locator('#acceptance').textContent(), '100%');
    assert.deepEqual(problems, [], 'no errors in the page');
    await rider.close();
    await page.close();
  } finally {
    offering.child.kill('SIGTERM');
  }
});

test('service areas are outlined, counted, and one can be picked', async () => {
  const square = (id, west, east) => ({
    type: 'Feature',
    properties: { id, name: id.toUpperCase() },
    geometry: { type: 'Polygon', coordinates: [[[west, -33.6], [east, -33.6], [east, -33.3], [west, -33.3], [west, -33.6]]] },
  });
  const file = resolve(shots, 'browser-areas.json');
  writeFileSync(file, JSON.stringify({ type: 'FeatureCollection', features: [square('scl', -70.8, -70.5), square('east', -70.5, -70.2)] }));
  const cities = await startService(['--areas', file]);
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    const problems = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${cities.url}/?lat=-33.45&lng=-70.5&zoom=10`);
    await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
    await page.waitForFunction(
      () => ['scl', 'east'].every((id) => window.trackingDashboard?.map.drawn.areas.includes(id)),
      null,
      { timeout: WAIT },
    );
    await gql('mutation { updateLocation(driverId: "east-cab", lat: -33.45, lng: -70.3) { id } }', {}, cities.url);
    await page.locator('#area-counts tr[data-area-id="east"] td:nth-child(2)', { hasText: '1' }).waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#area-counts tr[data-area-id="scl"] td:nth-child(2)').textContent(), '0');
    // Picking the east area watches it: its driver is on the map.
    await page.selectOption('#area-picker', 'east');
    await drawn(page, 'drivers', 'east-cab');
    await page.screenshot({ path: resolve(shots, 'dashboard-areas.png') });
    assert.deepEqual(problems, [], 'no errors in the page');
    await page.close();
  } finally {
    cities.child.kill('SIGTERM');
  }
});

test('the page shows the connection state and reconnects after the service restarts', async () => {
  const page = await browser.newPage();
  await page.goto(`${base}/`);
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
  const stopped = new Promise((r) => service.once('exit', r));
  service.kill('SIGTERM');
  await stopped;
  proxy.cut();
  await page.locator('#status[data-state="disconnected"]').waitFor({ timeout: WAIT });
  const restarted = await startService();
  service = restarted.child;
  proxy.point(restarted.url);
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
  // The new instance's fleet reaches the page.
  await updateLocation('after-restart', CENTER.lat, CENTER.lng);
  await drawn(page, 'drivers', 'after-restart');
  await page.close();
});

test('the layout holds from a phone to a wide screen; long searches come first; filter and selection work', async () => {
  const town = await startService();
  const at = town.url;
  try {
    // A fleet with long ids, a matched ride, and one searching far from
    // every driver (marked once it has searched a second: ?late=1).
    const updates = [];
    for (let i = 0; i < 40; i++) {
      updates.push({ driverId: `sim-driver-${String(i).padStart(6, '0')}-long`, lat: CENTER.lat + ((i % 8) - 4) * 0.004, lng: CENTER.lng + (Math.floor(i / 8) - 2) * 0.005 });
    }
    await gql('mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }', { u: updates }, at);
    const near = await gql(`mutation { requestDriver(riderId: "rider-near", lat: ${CENTER.lat}, lng: ${CENTER.lng}) { id } }`, {}, at);
    const far = await gql('mutation { requestDriver(riderId: "rider-far-away", lat: -33.55, lng: -70.75) { id } }', {}, at);
    const farId = far.requestDriver.id;
    const nearId = near.requestDriver.id;

    for (const [width, height] of [[1400, 900], [1920, 1080], [800, 700], [390, 844], [360, 740]]) {
      const page = await browser.newPage({ viewport: { width, height } });
      const errors = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${at}/?late=1`);
      await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
      await page.locator(`#rides tbody tr.late[data-ride-id="${farId}"]`).waitFor({ timeout: WAIT });
      await page.locator(`#rides tbody tr[data-ride-id="${nearId}"]`).waitFor({ timeout: WAIT });
      assert.deepEqual(await layoutProblems(page), [], `layout at ${width}×${height}`);
      // The ride searching long is first, and marked on the map.
      assert.equal(await page.locator('#rides tbody tr').first().getAttribute('data-ride-id'), farId);
      await page.waitForFunction((id) => window.trackingDashboard.map.drawn.pickups.get(id)?.late === true, farId, { timeout: WAIT });
      // The view fits the fleet in the part of the map the overlays leave
      // clear.
      const hidden = await page.evaluate(() => {
        const { map } = window.trackingDashboard;
        const clear = map.height - document.getElementById('map-foot').offsetHeight - 8;
        return [...map.drawn.drivers.entries(), ...map.drawn.pickups.entries()]
          .filter(([, p]) => p.x < 0 || p.y < 0 || p.x > map.width || p.y > clear)
          .map(([id]) => id);
      });
      assert.deepEqual(hidden, [], `markers out of view or under the overlays at ${width}×${height}`);
      await page.screenshot({ path: resolve(shots, `dashboard-${width}.png`), fullPage: true });
      assert.deepEqual(errors, [], `no errors in the page at ${width}×${height}`);
      await page.close();
    }

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${at}/?late=1`);
    await page.locator(`#rides tbody tr[data-ride-id="${nearId}"]`).waitFor({ timeout: WAIT });

    // The view fits the fleet (not the 15 km circle), and goes into the URL.
    await page.waitForFunction(() => new URL(location.href).searchParams.has('view'), null, { timeout: WAIT });
    const inView = () => page.evaluate(() => {
      const { map } = window.trackingDashboard;
      return [...map.drawn.drivers.values()].every((p) => p.x >= 0 && p.y >= 0 && p.x <= map.width && p.y <= map.height);
    });
    assert.ok(await inView(), 'every driver in view after the first snapshot');
    const filled = await page.evaluate(() => {
      const { map } = window.trackingDashboard;
      const points = [...map.drawn.drivers.values(), ...map.drawn.pickups.values()];
      const xs = points.map((p) => p.x);
      const ys = points.map((p) => p.y);
      return Math.max((Math.max(...xs) - Math.min(...xs)) / map.width, (Math.max(...ys) - Math.min(...ys)) / map.height);
    });
    assert.ok(filled > 0.6, `the fleet fills the view (${filled.toFixed(2)} of it), not a corner of the 15 km circle`);
    // Dragged away, then fitted again with the button.
    const box = await page.locator('#map').boundingBox();
    await page.mouse.move(box.x + 100, box.y + 100);
    await page.mouse.down();
    await page.mouse.move(box.x + 700, box.y + 600, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction(() => {
      const { map } = window.trackingDashboard;
      return [...map.drawn.drivers.values()].some((p) => p.x > map.width || p.y > map.height);
    }, null, { timeout: WAIT });
    await page.locator('#fit').click();
    await page.waitForFunction(() => {
      const { map } = window.trackingDashboard;
      return [...map.drawn.drivers.values()].every((p) => p.x >= 0 && p.y >= 0 && p.x <= map.width && p.y <= map.height);
    }, null, { timeout: WAIT });
    // A reload returns to the same view.
    await page.waitForFunction(() => {
      const { map } = window.trackingDashboard;
      const view = new URL(location.href).searchParams.get('view');
      return view === `${map.center.lat.toFixed(5)},${map.center.lng.toFixed(5)},${map.zoom}`;
    }, null, { timeout: WAIT });
    const before = await page.evaluate(() => ({ ...window.trackingDashboard.map.center, zoom: window.trackingDashboard.map.zoom }));
    await page.reload();
    await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
    const after = await page.evaluate(() => ({ ...window.trackingDashboard.map.center, zoom: window.trackingDashboard.map.zoom }));
    assert.equal(after.zoom, before.zoom);
    assert.ok(Math.abs(after.lat - before.lat) < 1e-4 && Math.abs(after.lng - before.lng) < 1e-4, JSON.stringify({ before, after }));

    // The filter narrows the list: by rider, by driver.
    await page.locator('#filter').fill('far-away');
    await page.waitForFunction((id) => {
      const rows = [...document.querySelectorAll('#rides tbody tr')];
      return rows.length === 1 && rows[0].dataset.rideId === id;
    }, farId, { timeout: WAIT });
    const driver = (await gql('query($id: ID!) { ride(id: $id) { driver { id } } }', { id: nearId }, at)).ride.driver.id;
    await page.locator('#filter').fill(driver.slice(-9));
    await page.waitForFunction((id) => {
      const rows = [...document.querySelectorAll('#rides tbody tr')];
      return rows.length === 1 && rows[0].dataset.rideId === id;
    }, nearId, { timeout: WAIT });
    await page.locator('#filter').fill('');

    // Selecting a ride in the list rings it on the map; clicking the other
    // ride's pickup on the map selects that one in the list.
    await page.locator(`#rides tbody tr[data-ride-id="${nearId}"] td:nth-child(1)`).click();
    await page.locator(`#rides tbody tr.selected[data-ride-id="${nearId}"]`).waitFor({ timeout: WAIT });
    assert.equal(await page.evaluate(() => window.trackingDashboard.selected), nearId);
    await page.locator('#fit').click();
    await page.waitForFunction((id) => {
      const { map } = window.trackingDashboard;
      const p = map.drawn.pickups.get(id);
      return p && p.x > 0 && p.y > 0 && p.x < map.width && p.y < map.height;
    }, nearId, { timeout: WAIT });
    const pickup = await page.evaluate((id) => window.trackingDashboard.map.drawn.pickups.get(id), nearId);
    const rides = await page.evaluate(() => window.trackingDashboard.fleet.rides.size);
    await page.mouse.click(box.x + pickup.x, box.y + pickup.y);
    await page.waitForFunction(() => window.trackingDashboard.selected === null, null, { timeout: WAIT });
    assert.equal(await page.evaluate(() => window.trackingDashboard.fleet.rides.size), rides, 'a click on a marker requests no ride');
    await page.close();
  } finally {
    town.child.kill('SIGTERM');
  }
});

test('the configured tiles are drawn, with their attribution', async () => {
  // One PNG (1×1), whatever tile is asked for; the requests are recorded.
  const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
  const asked = [];
  const tiles = http.createServer((request, response) => {
    asked.push(request.url);
    response.writeHead(200, { 'content-type': 'image/png' });
    response.end(png);
  });
  await new Promise((ok) => tiles.listen(0, '127.0.0.1', ok));
  const template = `http://127.0.0.1:${tiles.address().port}/{z}/{x}/{y}.png`;
  const mapped = await startService(['--map-tiles', template, '--map-attribution', 'Tiles: test server']);
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${mapped.url}/?zoom=12`);
    await page.locator('#attribution', { hasText: 'Tiles: test server' }).waitFor({ timeout: WAIT });
    await page.waitForFunction(() => window.trackingDashboard?.map.drawn.tiles > 0, null, { timeout: WAIT });
    await page.waitForFunction(
      () => [...window.trackingDashboard.map.tileCache.values()].some((image) => image.complete && image.naturalWidth > 0),
      null,
      { timeout: WAIT },
    );
    assert.ok(asked.length > 0 && asked.every((url) => /^\/12\/\d+\/\d+\.png$/.test(url)), asked.join(' '));
    assert.deepEqual(await layoutProblems(page), []);
    await page.close();
  } finally {
    mapped.child.kill('SIGTERM');
    tiles.close();
  }
});
