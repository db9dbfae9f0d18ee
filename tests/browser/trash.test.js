// Issue 11, "Trash": a secret deleted in the dashboard shows up on the Trash page with who
// deleted it and when, and the Restore button brings it back: it is listed in its project again
// and its machine reads it again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, enrollMachine, signet, go, ok } from './harness.js';

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

test('a secret deleted in the dashboard is restored from the Trash page', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);

  // A project, a secret and a machine allowed to read it, through the admin API.
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  const secret = await ok(page, 'POST', '/v1/admin/secrets', { projectId: project.id, name: 'STRIPE_KEY', value: 'sk-live-1' });
  const { home } = await enrollMachine(page, server, { projectId: project.id, secretIds: [secret.id] });
  const read = () => signet(home, ['get', secret.id]);
  assert.equal((await read()).stdout.trimEnd(), 'sk-live-1');

  // Deleted from the secrets page, after confirming.
  await page.goto(`${server.url}/#/secrets/${project.id}`);
  const row = page.locator('tr', { hasText: 'STRIPE_KEY' });
  await row.getByRole('button', { name: 'Delete STRIPE_KEY' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete STRIPE_KEY' }).click();
  await page.locator('#status', { hasText: 'STRIPE_KEY deleted' }).waitFor();
  await row.waitFor({ state: 'detached' });
  assert.notEqual((await read()).code, 0, 'the machine cannot read a deleted secret');

  // The Trash page lists it with who deleted it and when.
  await go(page, 'Trash');
  const trashed = page.locator('tr', { hasText: 'STRIPE_KEY' });
  await trashed.waitFor();
  const text = await trashed.textContent();
  assert.match(text, /payments/);
  assert.ok(text.includes(owner.username), `who deleted it: ${text}`);
  assert.match(text, /\d{1,2}:\d{2}/, `when: ${text}`);
  assert.ok(text.includes(secret.id));

  // Restored: gone from the trash, back in its project, readable again.
  await trashed.getByRole('button', { name: 'Restore' }).click();
  await page.locator('#status', { hasText: 'Restored the secret STRIPE_KEY' }).waitFor();
  await page.getByText('The trash is empty.').waitFor();
  await page.goto(`${server.url}/#/secrets/${project.id}`);
  await page.locator('tr', { hasText: 'STRIPE_KEY' }).waitFor();
  const again = await read();
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trimEnd(), 'sk-live-1');
  assert.deepEqual(page.problems, []);
});
