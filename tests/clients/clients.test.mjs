// GraphQL clients written elsewhere, against the real service: the GraphQL
// over HTTP spec's own audit suite (graphql-http's serverAudits), Apollo
// Client 4 with nothing but an HttpLink (multipart subscriptions), Apollo's
// persisted query link, graphql-sse, graphql-ws (through Apollo's
// GraphQLWsLink), a browser's CORS preflight, and --only-persisted.
//
// TRACKING_BIN names the binary (default: target/debug/tracking).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache, gql as tag } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { serverAudits } from 'graphql-http';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { WAIT, gql, startService } from '../support/service.mjs';

// Each test follows its ride in a town of its own, so that a driver one
// test leaves available is never near another test's pickup.
const town = (n) => ({ lat: -33.44262 + n, lng: -70.63054 });
const nearby = (at) => ({ lat: at.lat + 0.0017, lng: at.lng + 0.0004 });
const RIDE_STATUS = 'subscription($id: ID!) { rideStatus(rideId: $id) { id status } }';

let service;
let base;
const others = [];

before(async () => {
  ({ child: service, url: base } = await startService());
});

after(() => {
  service?.kill('SIGTERM');
  for (const child of others) child.kill('SIGTERM');
});

async function start(flags) {
  const started = await startService(flags);
  others.push(started.child);
  return started.url;
}

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/// Resolves with the value `promise` resolves to, or rejects after `ms`.
function within(ms, what, promise) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/// A ride that searches (no driver near yet), requested at `at` for a
/// pickup at `pickup`.
async function searchingRide(at, rider, pickup) {
  const data = await gql(at, 'mutation($r: ID!, $lat: Float!, $lng: Float!) { requestDriver(riderId: $r, lat: $lat, lng: $lng) { id status } }', { r: rider, ...pickup });
  assert.equal(data.requestDriver.status, 'SEARCHING');
  return data.requestDriver.id;
}

/// Follows a ride in town `n` through `subscribe(id, observer)` from
/// SEARCHING to DRIVER_FOUND (a driver reports near the pickup) to
/// CANCELLED (the rider cancels); resolves to the statuses seen, once the
/// stream completes.
async function followRide(at, n, subscribe) {
  const pickup = town(n);
  const id = await searchingRide(at, `rider-${n}`, pickup);
  const seen = [];
  let onSeen;
  const done = new Promise((resolveDone, reject) => {
    onSeen = { resolveDone, reject };
  });
  const waiters = [];
  const stop = subscribe(id, {
    next(status) {
      seen.push(status);
      for (const w of waiters.splice(0)) w();
    },
    error: (e) => onSeen.reject(e),
    complete: () => onSeen.resolveDone(),
  });
  const reach = (status) => within(WAIT, status, new Promise((ok) => {
    const check = () => (seen.includes(status) ? ok() : waiters.push(check));
    check();
  }));
  await reach('SEARCHING');
  await gql(at, 'mutation($d: ID!, $lat: Float!, $lng: Float!) { updateLocation(driverId: $d, lat: $lat, lng: $lng) { id } }', { d: `cab-${n}`, ...nearby(pickup) });
  await reach('DRIVER_FOUND');
  await gql(at, 'mutation($id: ID!) { cancelRequest(rideId: $id) { id } }', { id });
  await within(WAIT, 'the stream to complete', done);
  stop?.();
  return seen;
}

test('the GraphQL over HTTP audits: 61 of 61 ok, no warnings', async () => {
  const audits = serverAudits({ url: `${base}/graphql` });
  assert.equal(audits.length, 61, 'the suite this test was written against');
  const results = await Promise.all(audits.map(async (audit) => ({ audit, result: await audit.fn() })));
  const notOk = results
    .filter(({ result }) => result.status !== 'ok')
    .map(({ audit, result }) => `${audit.id} ${audit.name}: ${result.status}: ${result.reason}`);
  assert.deepEqual(notOk, []);
});

test('a CORS preflight from a listed origin is allowed, from another refused', async () => {
  const at = await start(['--cors-origin', 'https://app.example.com']);
  const preflight = (origin) => fetch(`${at}/graphql`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type,authorization,apollographql-client-name',
    },
  });
  const allowed = await preflight('https://app.example.com');
  assert.equal(allowed.status, 204);
  assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.match(allowed.headers.get('access-control-allow-headers'), /authorization/);
  const refused = await preflight('https://elsewhere.example.net');
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
});

test('Apollo Client 4 follows a ride with only an HttpLink (multipart subscriptions)', async () => {
  const client = new ApolloClient({ link: new HttpLink({ uri: `${base}/graphql` }), cache: new InMemoryCache() });
  const seen = await followRide(base, 1, (id, observer) => {
    const subscription = client
      .subscribe({ query: tag(RIDE_STATUS), variables: { id } })
      .subscribe({
        next: (result) => {
          if (result.error) return observer.error(result.error);
          observer.next(result.data.rideStatus.status);
        },
        error: observer.error,
        complete: observer.complete,
      });
    return () => subscription.unsubscribe();
  });
  assert.deepEqual(seen, ['SEARCHING', 'DRIVER_FOUND', 'CANCELLED']);
});

test('graphql-sse follows a ride over Server-Sent Events', async () => {
  const client = createSseClient({ url: `${base}/graphql/stream` });
  try {
    const seen = await followRide(base, 2, (id, observer) => client.subscribe(
      { query: RIDE_STATUS, variables: { id } },
      {
        next: (result) => (result.errors ? observer.error(new Error(JSON.stringify(result.errors))) : observer.next(result.data.rideStatus.status)),
        error: observer.error,
        complete: observer.complete,
      },
    ));
    assert.deepEqual(seen, ['SEARCHING', 'DRIVER_FOUND', 'CANCELLED']);
  } finally {
    client.dispose();
  }
});

test('Apollo Client with GraphQLWsLink (graphql-ws) follows a ride over /ws', async () => {
  const ws = createWsClient({ url: `${base.replace('http', 'ws')}/ws`, webSocketImpl: WebSocket, lazy: true, retryAttempts: 0 });
  const client = new ApolloClient({ link: new GraphQLWsLink(ws), cache: new InMemoryCache() });
  try {
    const seen = await followRide(base, 3, (id, observer) => {
      const subscription = client
        .subscribe({ query: tag(RIDE_STATUS), variables: { id } })
        .subscribe({
          next: (result) => (result.error ? observer.error(result.error) : observer.next(result.data.rideStatus.status)),
          error: observer.error,
          complete: observer.complete,
        });
      return () => subscription.unsubscribe();
    });
    assert.deepEqual(seen, ['SEARCHING', 'DRIVER_FOUND', 'CANCELLED']);
  } finally {
    await ws.dispose();
  }
});

test("automatic persisted queries with Apollo's link: miss, register, hit", async () => {
  const sent = [];
  const recordingFetch = async (uri, options) => {
    sent.push(JSON.parse(options.body));
    return fetch(uri, options);
  };
  const client = () => new ApolloClient({
    link: new PersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: `${base}/graphql`, fetch: recordingFetch })),
    cache: new InMemoryCache(),
  });
  const query = tag`query AreasForApq { areas { id } }`;
  const first = await client().query({ query });
  assert.deepEqual(first.data.areas.map((a) => a.id), ['default']);
  assert.equal(sent.length, 2, 'the hash alone, then the hash with the text');
  assert.equal(sent[0].query, undefined);
  assert.ok(sent[0].extensions.persistedQuery.sha256Hash);
  assert.equal(typeof sent[1].query, 'string');
  // Another client (a fresh cache) sends the hash alone, and it is known.
  const second = await client().query({ query });
  assert.deepEqual(second.data.areas.map((a) => a.id), ['default']);
  assert.equal(sent.length, 3);
  assert.equal(sent[2].query, undefined);
});

test('--only-persisted runs the listed documents and refuses any other', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracking-persisted-'));
  try {
    const listed = 'query Listed { areas { id } }';
    const file = join(dir, 'documents.json');
    writeFileSync(file, JSON.stringify({ [sha256(listed)]: listed }));
    const at = await start(['--persisted-documents', file, '--only-persisted']);
    const post = (body) => fetch(`${at}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify(body),
    });
    const byHash = await post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha256(listed) } } });
    assert.equal(byHash.status, 200);
    assert.deepEqual((await byHash.json()).data.areas, [{ id: 'default' }]);
    const other = await post({ query: 'query Other { areas { id } }' });
    assert.equal(other.status, 403);
    const body = await other.json();
    assert.equal(body.errors[0].extensions.code, 'FORBIDDEN');
    assert.equal(body.data, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
