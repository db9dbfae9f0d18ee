// Passkeys through a CDP virtual authenticator: register one on the account page, sign out, and
// sign in with the passkey alone (no username, password or code).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, hasRoute, go } from './harness.js';

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

test('register a passkey, sign out, sign in with the passkey alone', async (t) => {
  assert.ok(await hasRoute(server.url, 'POST', '/v1/auth/setup'), 'the server routes POST /v1/auth/setup');
  assert.ok(await hasRoute(server.url, 'POST', '/v1/auth/passkey/login/start'), 'the server routes POST /v1/auth/passkey/login/start');
  const page = await newPage(browser);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });

  const owner = await setupOwner(page, server);
  await login(page, server, owner);
  await go(page, 'Account');
  await page.getByLabel('Passkey name').fill('Test laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.locator('tr', { hasText: 'Test laptop' }).waitFor();
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  assert.equal(credentials.length, 1, 'one resident credential on the authenticator');
  assert.equal(credentials[0].rpId, 'localhost');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.locator('#who').getByText(owner.username, { exact: true }).waitFor();

  await go(page, 'Account');
  const row = page.locator('tr', { hasText: 'Test laptop' });
  await row.waitFor();
  assert.notEqual((await row.locator('td').nth(1).textContent()).trim(), '—', 'last use recorded');
  assert.deepEqual(page.problems, []);
});
