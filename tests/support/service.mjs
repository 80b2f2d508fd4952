// What the node suites (tests/browser, tests/clients) share: the service
// binary started on a free port with an environment of the test's own, and
// GraphQL over plain fetch. No dependencies: each suite imports it by path.
//
// TRACKING_BIN names the binary (default: target/debug/tracking).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const binary = process.env.TRACKING_BIN || resolve(root, 'target/debug/tracking');
export const WAIT = 15_000;

// The service's environment: ours without TRACKING_*, so an exported
// TRACKING_REDIS_URL or TRACKING_JWT_SECRET cannot change what is tested.
export function serviceEnv() {
  const env = { RUST_LOG: 'info' };
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('TRACKING_') && name !== 'RUST_LOG') env[name] = value;
  }
  return env;
}

/// Starts the service on 127.0.0.1:0 with `extra` flags; resolves to the
/// child process and its URL once it says where it listens.
export function startService(extra = []) {
  return new Promise((resolveStart, reject) => {
    const child = spawn(binary, ['--listen', '127.0.0.1:0', '--search-interval', '60s', ...extra], {
      env: serviceEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timer = setTimeout(() => reject(new Error('the service did not say where it listens')), WAIT);
    let buffered = '';
    let done = false;
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const match = buffered.match(/listening on (http:\/\/[^\s]+)/);
      if (match && !done) {
        done = true;
        clearTimeout(timer);
        resolveStart({ child, url: match[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`the service exited with ${code}`)));
  });
}

/// Posts a document that must succeed to `at`; resolves to its `data`.
export async function gql(at, query, variables = {}) {
  const response = await fetch(`${at}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}
