// Issue 12 §2, managed database passwords: a secret made managed (through the admin API) shows,
// in its Rotation dialog, the database role it holds, that it has no agent yet and has never been
// heard from; "Rotate now" says the new password is pending until the agent confirms it, the
// secret stays at version 1, and the dialog then shows the pending rotation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, ok } from './harness.js';

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

test('a managed secret shows its agent state and a pending rotation in the Rotation dialog', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);

  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  const conn = await ok(page, 'POST', `/v1/admin/projects/${project.id}/connections`, {
    name: 'main', host: '127.0.0.1', port: 5432, database: 'postgres', adminUser: 'postgres', adminPassword: 'unused', tlsMode: 'disable',
  });
  const secret = await ok(page, 'POST', '/v1/admin/secrets', {
    projectId: project.id, name: 'APP_DB', fields: { username: 'app_user', password: 'old-password' },
  });
  const managed = await ok(page, 'POST', `/v1/admin/secrets/${secret.id}/managed`, { connectionId: conn.id });
  assert.equal(managed.username, 'app_user');

  await page.goto(`${server.url}/#/secrets/${project.id}`);
  const row = page.locator('tr', { hasText: 'APP_DB' });
  await row.getByRole('button', { name: 'Rotation' }).click();
  const info = page.locator('#managed-status');
  await info.waitFor();
  const before = await info.textContent();
  assert.match(before, /database role app_user/);
  assert.match(before, /Agent: none yet/);
  assert.match(before, /never heard from/);
  assert.match(before, /Pending: none/);

  await page.getByRole('dialog').getByRole('button', { name: 'Rotate now' }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: /^Rotate .* now$/ }).click();
  await page.locator('#status', { hasText: 'pending until its agent confirms it' }).waitFor();
  const shown = await ok(page, 'GET', `/v1/admin/secrets/${secret.id}`);
  assert.equal(shown.version, 1, 'a managed rotation is not live before its agent confirms it');
  const state = await ok(page, 'GET', `/v1/admin/secrets/${secret.id}/managed`);
  assert.match(state.managed.pendingRotationId, /^rot_/);

  await page.locator('tr', { hasText: 'APP_DB' }).getByRole('button', { name: 'Rotation' }).click();
  await page.locator('#managed-status', { hasText: state.managed.pendingRotationId }).waitFor();
  assert.deepEqual(page.problems, []);
});
