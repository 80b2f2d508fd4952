// GraphiQL in a real browser with no internet: its files come from a
// directory filled by scripts/graphiql-assets.sh and served with
// --graphiql-assets; every request that would leave the machine is
// refused. Runs a query and a rideStatus subscription through GraphiQL's own
// editor and execute button, and sees the subscription's events arrive.
// Without the local files, the page says how to get them.
//
// TRACKING_BIN names the binary (default: target/debug/tracking);
// CHROMIUM the browser (default: /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { WAIT, gql, root, startService } from '../support/service.mjs';

const browserPath = process.env.CHROMIUM || '/usr/bin/chromium';
const PICKUP = { lat: -33.4489, lng: -70.6693 };

let assets;
let browser;
const services = [];

before(async () => {
  assets = mkdtempSync(join(tmpdir(), 'graphiql-assets-'));
  execFileSync(resolve(root, 'scripts/graphiql-assets.sh'), [assets], { stdio: ['ignore', 'ignore', 'inherit'] });
  browser = await chromium.launch({
    executablePath: browserPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  mkdirSync(resolve(root, 'target'), { recursive: true });
});

after(async () => {
  if (browser) await browser.close();
  for (const child of services) child.kill('SIGTERM');
  if (assets) rmSync(assets, { recursive: true, force: true });
});

/// A page that can reach `base` and nothing else; `left` collects what it
/// tried to fetch elsewhere.
async function offlinePage(base) {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const left = [];
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(base) || url.startsWith(base.replace('http', 'ws'))) return route.continue();
    left.push(url);
    return route.abort();
  });
  return { page, left };
}

/// Sets GraphiQL's editor `index` (0 the query, 1 the variables) to `text`
/// and waits until GraphiQL has taken it in: it parses an edit after a
/// pause, and stores it under `key` in localStorage when it has.
async function editor(page, index, key, text) {
  await page.evaluate(
    ([i, t]) => document.querySelectorAll('.graphiql-editor .CodeMirror')[i].CodeMirror.setValue(t),
    [index, text],
  );
  await page.waitForFunction(([k, t]) => localStorage.getItem(k) === t, [key, text], { timeout: WAIT });
}
const query = (page, text) => editor(page, 0, 'graphiql:query', text);
const variables = (page, text) => editor(page, 1, 'graphiql:variables', text);
const response = (page) => page.evaluate(() => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() ?? '');
const responseContains = (page, text) => page.waitForFunction(
  (t) => (document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() ?? '').includes(t),
  text,
  { timeout: WAIT },
);

test('GraphiQL runs a query and a subscription with no internet, from local files', async () => {
  const { child, url: base } = await startService(['--graphiql-assets', assets]);
  services.push(child);
  const { page, left } = await offlinePage(base);
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(`${base}/graphql`);
  await page.locator('.graphiql-execute-button').waitFor({ timeout: WAIT });
  // The schema loaded (its introspection query nests deeper than an
  // ordinary request may): the documentation explorer knows Query.
  await page.locator('button[aria-label="Show Documentation Explorer"]').click();
  await page.locator('.graphiql-doc-explorer', { hasText: 'Query' }).waitFor({ timeout: WAIT });

  await query(page, '{ areas { id } }');
  await page.locator('.graphiql-execute-button').click();
  await responseContains(page, '"default"');

  // A ride that searches; GraphiQL follows it over /ws.
  const ride = await gql(base, 'mutation($lat: Float!, $lng: Float!) { requestDriver(riderId: "ana", lat: $lat, lng: $lng) { id } }', PICKUP);
  const id = ride.requestDriver.id;
  await query(page, 'subscription Follow($id: ID!) { rideStatus(rideId: $id) { id status driver { id } } }');
  await variables(page, JSON.stringify({ id }));
  await page.locator('.graphiql-execute-button').click();
  await responseContains(page, '"SEARCHING"');
  await gql(base, 'mutation($lat: Float!, $lng: Float!) { updateLocation(driverId: "cab", lat: $lat, lng: $lng) { id } }', { lat: PICKUP.lat + 0.001, lng: PICKUP.lng });
  await responseContains(page, '"DRIVER_FOUND"');
  assert.match(await response(page), /"id": "cab"/);

  await page.screenshot({ path: resolve(root, 'target', 'graphiql.png') });
  assert.deepEqual(left, [], 'nothing was fetched from outside');
  assert.deepEqual(problems, [], 'no errors in the page');
  await page.close();
});

test('without local files and without internet, the page says how to get them', async () => {
  const { child, url: base } = await startService();
  services.push(child);
  const { page, left } = await offlinePage(base);
  await page.goto(`${base}/graphql`);
  await page.locator('#graphiql', { hasText: '--graphiql-assets' }).waitFor({ timeout: WAIT });
  assert.ok(left.some((url) => url.startsWith('https://unpkg.com/graphiql@4')), left.join(', '));
  await page.close();
});
