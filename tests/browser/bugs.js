// Shared parts of the issue 16 bug tests (bugs-*.test.js): one server per test file with its
// owner signed in, and a person of each test's own (fresh second factor, own audit trail), so
// that every "bug N" test can run alone (`--test-name-pattern`) or with its file in any order.
// scripts/dashboard-bugs.sh runs each alone against the dashboard before the fixes and after.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, pageFetch, sleep, freshTotp } from './harness.js';
import { secretFromUri } from './totp.js';

export let server;
export let browser;
export let ownerPage;
let owner;
let seq = 0;
// Unique names per process, so tests can run in any order or alone on the shared server.
const run = Date.now().toString(36).slice(-4);
export const tag = (what) => `${what}-${run}${++seq}`;

/** Starts the file's server and signs its owner in (before), and stops both (after). */
export function setUp() {
  before(async () => {
    server = await startServer();
    browser = await launch();
    ownerPage = await newPage(browser);
    owner = await setupOwner(ownerPage, server);
    await login(ownerPage, server, owner);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
}

/** Polls `fn` until it answers truthy or `ms` pass; resolves with its last answer. */
export async function eventually(fn, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last || Date.now() > end) return last;
    await sleep(100);
  }
}

/** An admin call from the owner's page, with a fresh step-up when the server asks for one. */
export async function asOwner(method, path, body) {
  let r = await pageFetch(ownerPage, method, path, body);
  if (r.status === 403 && r.json?.code === 'step_up_required') {
    const s = await pageFetch(ownerPage, 'POST', '/v1/auth/step-up', { totp: await freshTotp(owner.totpSecret) });
    assert.equal(s.status, 200, `owner step-up: ${s.text}`);
    r = await pageFetch(ownerPage, method, path, body);
  }
  return r;
}

/**
 * A new person with `role` (and `projects`, a project scope), signed in on a page of their own:
 * `{ page, who, consoleErrors }`. `consoleErrors` collects every console error of that page.
 */
export async function signedInAs(role, { projects, width } = {}) {
  const username = tag(role).replace(/-/g, '_');
  const r = await asOwner('POST', '/v1/admin/users', {
    username, email: `${username}@example.com`, password: `${username} long password`, role, ...(projects ? { projects } : {}),
  });
  assert.equal(r.status, 200, `create ${role}: ${r.text}`);
  const who = { username, password: `${username} long password`, id: r.json.user.id, totpSecret: secretFromUri(r.json.otpauthUri) };
  const page = await newPage(browser, width ? { width } : {});
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await login(page, server, who);
  return { page, who, consoleErrors };
}

/** A project (and optionally a standard secret) made over the admin API from `page`. */
export async function project(page, name, secret) {
  const p = await pageFetch(page, 'POST', '/v1/admin/projects', { name });
  assert.equal(p.status, 200, p.text);
  if (!secret) return { id: p.json.id };
  const s = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId: p.json.id, ...secret });
  assert.equal(s.status, 200, s.text);
  return { id: p.json.id, secretId: s.json.id };
}

export async function secretNames(page, projectId) {
  const r = await pageFetch(page, 'POST', '/v1/admin/secrets/query', { projectId });
  assert.equal(r.status, 200, r.text);
  return r.json.secrets.map((s) => s.name);
}

export async function openPage(page, hash, heading) {
  await page.goto(`${server.url}/#/`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.goto(`${server.url}/#/${hash}`);
  await page.getByRole('heading', { name: heading, level: 1, exact: true }).waitFor();
}

export const mainText = (page) => page.locator('main').innerText();
export const statusText = (page) => page.locator('#status').innerText().catch(() => '');
