// Issue 11, access policies: a window policy that cannot include the current time, made and bound
// in the dashboard, refuses a real signed machine read (403), and the audit view shows the
// denial with the axis that refused it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, enrollMachine, signet, pageFetch, go, ok } from './harness.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** HH:MM of a minute of the day. */
const hhmm = (m) => `${String(Math.floor(m / 60) % 24).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;

test('a window policy made in the dashboard refuses a signed read outside it, and the audit says why', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);

  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  const secret = await ok(page, 'POST', '/v1/admin/secrets', { projectId: project.id, name: 'DATABASE_URL', value: 'postgres://db' });
  const { home, machine } = await enrollMachine(page, server, { projectId: project.id, secretIds: [secret.id] });
  const before = await signet(home, ['get', secret.id]);
  assert.equal(before.code, 0, before.stderr);
  assert.equal(before.stdout.trimEnd(), 'postgres://db');

  // A one-hour UTC window starting two hours from now: it cannot include the current time.
  const now = new Date();
  const minute = now.getUTCHours() * 60 + now.getUTCMinutes();
  const start = hhmm((minute + 120) % 1440);
  const end = hhmm((minute + 180) % 1440);

  await page.goto(`${server.url}/#/secrets/${project.id}`);
  await page.getByText('New policy').click();
  await page.getByLabel('Policy name').fill('later-only');
  await page.getByLabel('Window opens (HH:MM)').fill(start);
  await page.getByLabel('Window closes (HH:MM)').fill(end);
  await page.getByLabel('Time zone').fill('UTC');
  await page.getByRole('button', { name: 'Create policy' }).click();
  await page.locator('#status', { hasText: 'Policy later-only created.' }).waitFor();
  const policies = page.getByRole('region', { name: 'Policies in payments' });
  await policies.getByText(`${start}–${end} UTC`).waitFor();

  await page.getByLabel('Policy of DATABASE_URL').selectOption({ label: 'later-only' });
  await page.locator('#status', { hasText: 'Policy bound to DATABASE_URL.' }).waitFor();
  const bound = await ok(page, 'GET', `/v1/admin/secrets/${secret.id}/policy`);
  assert.match(bound.policyId, /^pol_/);

  // The machine's signed read is refused, and no value is printed.
  const refused = await signet(home, ['get', secret.id]);
  assert.notEqual(refused.code, 0);
  assert.ok(!refused.stdout.includes('postgres://db'));
  assert.match(refused.stderr, /403|access denied/i, refused.stderr);

  // The audit view shows the denial and the axis.
  await go(page, 'Audit log');
  await page.getByLabel('Action').fill('secret_read');
  await page.getByLabel('Result').selectOption('denied');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  const records = page.locator('#audit-records');
  await records.getByText('policy_window').waitFor();
  assert.match(await records.textContent(), new RegExp(secret.id));

  // Deleting a bound policy is refused with the rule's name.
  const del = await pageFetch(page, 'POST', `/v1/admin/projects/${project.id}/policies/${bound.policyId}/delete`, {});
  assert.equal(del.status, 409);
  assert.match(del.text, /policy_in_use/);
  assert.deepEqual(page.problems, []);
});
