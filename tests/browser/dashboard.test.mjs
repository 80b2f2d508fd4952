// The dashboard in a real browser: Debian's headless Chromium, driven by
// playwright-core. Starts the service binary on a free port, puts drivers on
// the map through the API, requests a ride by clicking on the map, sees it
// matched in the page, cancels another from the list, follows a ride in the
// rider view, and saves screenshots under target/.
//
// TRACKING_BIN names the binary (default: target/debug/tracking);
// CHROMIUM the browser (default: /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
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
  await page.goto(`${base}/?lat=${CENTER.lat}&lng=${CENTER.lng}&zoom=14`);
  await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });

  // Drivers appear through the API, live.
  await updateLocation('near', CENTER.lat + 0.002, CENTER.lng + 0.002);
  await updateLocation('second', CENTER.lat - 0.004, CENTER.lng + 0.003);
  await page.locator('circle.driver[data-driver-id="near"]').waitFor({ timeout: WAIT });
  await page.locator('circle.driver[data-driver-id="second"]').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#n-available').textContent(), '2');

  // Click the map's centre: a ride is requested there and matched at once.
  const map = page.locator('#map');
  const box = await map.boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const matched = page.locator('#rides tr[data-status="DRIVER_FOUND"]');
  await matched.first().waitFor({ timeout: WAIT });
  assert.equal(await matched.first().locator('td').nth(3).textContent(), 'near', 'the nearest driver');
  await page.locator('circle.driver.ASSIGNED[data-driver-id="near"]').waitFor({ timeout: WAIT });
  await page.locator('line.link').first().waitFor({ timeout: WAIT });

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
  assert.deepEqual(problems, [], 'no errors in the page');
  await page.close();
});

test('the rider view follows a car to the pickup', async () => {
  await updateLocation('car', CENTER.lat + 0.03, CENTER.lng);
  const ride = await gql(`mutation { requestDriver(riderId: "ana", lat: ${CENTER.lat + 0.025}, lng: ${CENTER.lng}) { id } }`);
  const id = ride.requestDriver.id;
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  await page.goto(`${base}/?ride=${id}`);
  await page.locator('#rider-status', { hasText: 'DRIVER FOUND' }).waitFor({ timeout: WAIT });
  await page.locator('circle.driver[data-driver-id="car"]').waitFor({ timeout: WAIT });
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
    await page.locator('circle.driver.AVAILABLE[data-driver-id="cab"]').waitFor({ timeout: WAIT });

    const requested = await gql(
      `mutation { requestDriver(riderId: "ana", lat: ${CENTER.lat}, lng: ${CENTER.lng}, dropoff: {lat: ${CENTER.lat - 0.01}, lng: ${CENTER.lng - 0.01}}) { id } }`,
      {}, at,
    );
    const id = requested.requestDriver.id;
    const rider = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    await rider.goto(`${at}/?ride=${id}`);
    await rider.locator('#rider-driver', { hasText: 'looking for a driver' }).waitFor({ timeout: WAIT });

    // Offered: the driver turns OFFERED, the row counts the offer down.
    await page.locator('circle.driver.OFFERED[data-driver-id="cab"]').waitFor({ timeout: WAIT });
    const row = page.locator(`#rides tr[data-ride-id="${id}"]`);
    await row.locator('span.offer', { hasText: /offered to cab · \d+s/ }).waitFor({ timeout: WAIT });
    await page.locator('line.offer').first().waitFor({ timeout: WAIT });

    // Accepted, arrived, on the trip, done: each phase drawn and listed.
    await rideOp('acceptOffer', id);
    await page.locator(`#rides tr[data-ride-id="${id}"][data-status="DRIVER_FOUND"]`).waitFor({ timeout: WAIT });
    await page.locator('circle.driver.ASSIGNED[data-driver-id="cab"]').waitFor({ timeout: WAIT });
    await page.locator('line.link').first().waitFor({ timeout: WAIT });
    await rider.locator('#rider-driver', { hasText: 'driver on the way' }).waitFor({ timeout: WAIT });
    await rideOp('driverArrived', id);
    await page.locator(`rect.pickup.ARRIVED[data-ride-id="${id}"]`).waitFor({ timeout: WAIT });
    await rider.locator('#rider-driver', { hasText: 'your driver has arrived' }).waitFor({ timeout: WAIT });
    await rideOp('startTrip', id);
    await page.locator(`#rides tr[data-ride-id="${id}"][data-status="IN_PROGRESS"]`).waitFor({ timeout: WAIT });
    await page.locator(`circle.dropoff[data-ride-id="${id}"]`).waitFor({ timeout: WAIT });
    await page.locator('line.trip').first().waitFor({ timeout: WAIT });
    await rider.locator('#rider-driver', { hasText: 'on the trip' }).waitFor({ timeout: WAIT });
    await page.screenshot({ path: resolve(shots, 'dashboard-trip.png') });
    await rideOp('completeRide', id);
    await page.locator(`#rides tr[data-ride-id="${id}"][data-status="COMPLETED"]`).waitFor({ timeout: WAIT });
    await rider.locator('#rider-driver', { hasText: 'done' }).waitFor({ timeout: WAIT });
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
    await page.locator('path.service-area[data-area-id="scl"]').waitFor({ timeout: WAIT });
    await page.locator('path.service-area[data-area-id="east"]').waitFor({ timeout: WAIT });
    await gql('mutation { updateLocation(driverId: "east-cab", lat: -33.45, lng: -70.3) { id } }', {}, cities.url);
    await page.locator('#area-counts tr[data-area-id="east"] td:nth-child(2)', { hasText: '1' }).waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#area-counts tr[data-area-id="scl"] td:nth-child(2)').textContent(), '0');
    // Picking the east area watches it: its driver is on the map.
    await page.selectOption('#area-picker', 'east');
    await page.locator('circle.driver[data-driver-id="east-cab"]').waitFor({ timeout: WAIT });
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
  await page.locator('circle.driver[data-driver-id="after-restart"]').waitFor({ timeout: WAIT });
  await page.close();
});
