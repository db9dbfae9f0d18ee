// The whole newcomer path in a real browser, with a real machine enrolled from a shell: first-run
// setup, sign-in with password and TOTP, a project and a secret, a bootstrap token, approval by
// fingerprint, attach and grant, and the machine reading the value.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, signet, hasRoute } from './harness.js';

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

test('setup, sign in, add a secret, enroll and approve a machine, and the machine reads it', async (t) => {
  if (!(await hasRoute(server.url, 'POST', '/v1/auth/setup'))) return t.skip('waiting for backend route POST /v1/auth/setup');
  const page = await newPage(browser);

  const owner = await setupOwner(page, server);
  assert.equal(owner.recoveryCodes.length, 10, 'ten recovery codes are shown once');
  await page.getByRole('button', { name: /continue to sign in/i }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await login(page, server, owner);

  await page.getByRole('link', { name: 'Projects' }).click();
  await page.getByLabel('New project name').fill('payments');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.locator('tr', { hasText: 'payments' }).waitFor();

  const value = 'postgres://app:s3cr3t@db/payments';
  await page.getByRole('link', { name: 'Secrets' }).click();
  await page.getByLabel('Name', { exact: true }).fill('DATABASE_URL');
  await page.getByLabel('Value').fill(value);
  await page.getByRole('button', { name: 'Create secret' }).click();
  await page.locator('tr', { hasText: 'DATABASE_URL' }).waitFor();
  assert.equal(await page.getByText(value).count(), 0, 'the value is never shown back');

  await page.getByRole('link', { name: 'Tokens' }).click();
  await page.getByRole('button', { name: 'Issue bootstrap token' }).click();
  const command = (await page.locator('#bootstrap-result code').textContent()).trim();
  assert.match(command, /^curl -fsSL '?http:\/\/localhost:\d+\/v1\/bootstrap\/\S+'? \| sh$/);
  const token = command.match(/\/v1\/bootstrap\/([^'\s]+)/)[1];

  const home = server.home('machine');
  const enrolled = await signet(home, ['--json', 'enroll', '--server', server.url, '--token', token, '--name', 'web-1']);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const { fingerprint } = JSON.parse(enrolled.stdout);
  assert.ok(fingerprint);

  await page.getByRole('link', { name: 'Machines' }).click();
  const row = page.locator('tr', { hasText: 'web-1' });
  await row.waitFor();
  assert.equal((await row.locator('.fingerprint').textContent()).trim(), fingerprint, 'the fingerprint the machine printed');
  await row.getByRole('button', { name: 'Approve' }).click();
  await page.getByRole('dialog').getByText(fingerprint).waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('link', { name: 'web-1' }).click();
  await page.getByRole('heading', { name: 'web-1' }).waitFor();
  await page.getByText('active', { exact: true }).first().waitFor();

  await page.getByLabel('Project').selectOption({ label: 'payments' });
  await page.getByRole('button', { name: 'Attach' }).click();
  const grant = page.getByLabel(/DATABASE_URL/);
  await grant.waitFor();
  await grant.check();
  await page.locator('#status', { hasText: 'Granted DATABASE_URL' }).waitFor();

  const secretId = await grant.getAttribute('data-secret');
  const got = await signet(home, ['get', secretId]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout.trimEnd(), value);
  assert.deepEqual(page.problems, []);
});
