// The dashboard's frame rate with a city's fleet, in headless Chromium at
// 1400×900 (the `dashboard-fps` scenario of scripts/bench.sh runs this and
// writes its figures into BENCHMARKS.md).
//
// For each fleet size: a fresh service (the binary given, every default
// on), that many drivers within 6 km of the centre, each moving a few
// metres every 2 s through `updateLocations` (a fifth of them every
// 400 ms); the page opened on the fleet (it fits its view to it, every
// driver drawn); then, over 10 s, the animation frames the page ran and
// the time its main thread spent in long tasks (over 50 ms).
// Prints one JSON line per fleet size.
//
//   node bench/browser/fps.mjs BINARY [CHROMIUM]

import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { chromium } = await import(pathToFileURL(resolve(root, 'tests/browser/node_modules/playwright-core/index.mjs')).href);
const binary = process.argv[2] || resolve(root, 'target/release/tracking');
const browserPath = process.argv[3] || process.env.CHROMIUM || '/usr/bin/chromium';
const CENTER = { lat: -33.4489, lng: -70.6693 };
const SIZES = [500, 2000, 5000];
const WINDOW_MS = 10_000;
const EVERY_MS = 2000;
const SLICES = 5;

function startService() {
  return new Promise((ok, fail) => {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TRACKING_')) env[k] = v;
    const child = spawn(binary, ['--listen', '127.0.0.1:0'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/[^\s]+)/);
      if (match) ok({ child, url: match[1] });
    });
    child.on('exit', (code) => fail(new Error(`the service exited with ${code}`)));
  });
}

async function report(url, updates) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'mutation($u: [LocationUpdate!]!) { updateLocations(updates: $u) { accepted } }', variables: { u: updates } }),
  });
  const body = await response.json();
  if (body.errors || body.data.updateLocations.accepted !== updates.length) throw new Error(JSON.stringify(body));
}

// Driver i's home (the same every run), and where move `step` puts it.
function home(i) {
  const a = (i * 2.399963) % (2 * Math.PI);
  const r = 6 * Math.sqrt((i + 0.5) / 5000);
  return { lat: CENTER.lat + (r * Math.cos(a)) / 111.2, lng: CENTER.lng + (r * Math.sin(a)) / (111.2 * Math.cos((CENTER.lat * Math.PI) / 180)) };
}
const at = (i, step) => ({ driverId: `d${i}`, lat: home(i).lat + step * 0.00003, lng: home(i).lng });

async function measure(browser, drivers) {
  const { child, url } = await startService();
  try {
    for (let first = 0; first < drivers; first += 1000) {
      const batch = [];
      for (let i = first; i < Math.min(drivers, first + 1000); i++) batch.push(at(i, 0));
      await report(url, batch);
    }
    let moving = true;
    const mover = (async () => {
      const slice = Math.ceil(drivers / SLICES);
      for (let step = 1; moving; step++) {
        for (let s = 0; s < SLICES && moving; s++) {
          const next = Date.now() + EVERY_MS / SLICES;
          const batch = [];
          for (let i = s * slice; i < Math.min(drivers, (s + 1) * slice); i++) batch.push(at(i, step));
          for (let k = 0; k < batch.length; k += 1000) await report(url, batch.slice(k, k + 1000));
          await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
        }
      }
    })();
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${url}/`);
    await page.waitForFunction((n) => window.trackingDashboard?.map.drawn.drivers.size === n, drivers, { timeout: 60_000 });
    // Every driver drawn inside the canvas: the view fits the fleet.
    const inside = await page.evaluate(() => {
      const { map } = window.trackingDashboard;
      return [...map.drawn.drivers.values()].filter((p) => p.x >= 0 && p.y >= 0 && p.x <= map.width && p.y <= map.height).length;
    });
    await new Promise((r) => setTimeout(r, EVERY_MS));
    const figures = await page.evaluate((ms) => new Promise((done) => {
      let frames = 0;
      let long = 0;
      let draws = 0;
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) long += entry.duration;
      });
      observer.observe({ type: 'longtask' });
      const map = window.trackingDashboard.map;
      const draw = map.draw.bind(map);
      map.draw = (...args) => { draws += 1; return draw(...args); };
      const started = performance.now();
      const tick = () => {
        frames += 1;
        if (performance.now() - started < ms) requestAnimationFrame(tick);
        else {
          observer.disconnect();
          const elapsed = performance.now() - started;
          done({ fps: (frames * 1000) / elapsed, longTaskShare: long / elapsed, drawsPerSec: (draws * 1000) / elapsed });
        }
      };
      requestAnimationFrame(tick);
    }), WINDOW_MS);
    moving = false;
    await mover;
    await page.close();
    return { drivers, inView: inside, ...figures };
  } finally {
    child.kill('SIGTERM');
  }
}

const browser = await chromium.launch({
  executablePath: browserPath,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
});
try {
  for (const drivers of SIZES) console.log(JSON.stringify(await measure(browser, drivers)));
} finally {
  await browser.close();
}
