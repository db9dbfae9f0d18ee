// Issue 14 §3 in the dashboard, the owners' side: the Single sign-on page adds a provider (its
// client secret never shown back, only "set"), shows the redirect URI to register, refuses a bad
// issuer next to its field, adds and deletes a claim mapping, edits the provider, and deletes it
// only after its name is typed. A developer sees no Single sign-on entry and the API answers
// them the uniform 403. The sign-in page offers each enabled provider, shows one generic message
// after a refused SSO sign-in, and, once SSO is required, keeps the password form behind a
// break-glass disclosure that tells everyone else to use SSO.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, pageFetch, createUser, go, freshTotp } from './harness.js';

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

const SECRET = 'client-secret-7f3a9c1e5b2d8046';
// Set by the first test, used by the second.
let page;
let owner;
let dev;
let keptId;

test('an owner manages providers, mappings and the sign-in policy; a developer cannot', async () => {
  page = await newPage(browser);
  owner = await setupOwner(page, server);
  await login(page, server, owner);
  const project = await pageFetch(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  assert.equal(project.status, 200, project.text);

  await go(page, 'Single sign-on');
  await page.getByRole('heading', { name: 'Add a provider', level: 2 }).waitFor();
  assert.ok(await page.getByText('No providers yet').isVisible());

  // A malformed issuer is refused before it is sent, next to its field.
  const add = page.locator('#sso-add');
  await add.getByLabel('Name', { exact: true }).fill('Acme Login');
  await add.getByLabel('Issuer URL').fill('login.example.com');
  await add.getByLabel('Client id').fill('signet-dashboard');
  await add.getByLabel('Client secret').fill(SECRET);
  await add.getByRole('button', { name: 'Add provider' }).click();
  const issuer = add.getByLabel('Issuer URL');
  assert.equal(await issuer.getAttribute('aria-invalid'), 'true');
  await add.locator('#sso-add-issuer-error', { hasText: 'URL' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'sso-add-issuer', 'focus on the field in error');
  assert.match(await issuer.getAttribute('aria-describedby'), /sso-add-issuer-error/);

  // Fixed, it is trusted; the redirect URI to register is shown with a copy button.
  await issuer.fill('https://login.example.com');
  await add.getByLabel('Client secret').fill(SECRET);
  await add.getByLabel('Create users at their first sign-in').check();
  await add.getByRole('button', { name: 'Add provider' }).click();
  const notice = page.locator('#sso-added');
  await notice.waitFor();
  const redirectUri = `${server.url}/v1/auth/sso/callback`;
  assert.equal((await notice.locator('code').textContent()).trim(), redirectUri);
  assert.ok(await notice.getByRole('button', { name: 'Copy redirect URI' }).isVisible());
  assert.equal(await issuer.getAttribute('aria-invalid'), null, 'the error went with the fix');
  const row = page.locator('tr', { hasText: 'Acme Login' });
  await row.waitFor();
  assert.ok(await row.getByText('https://login.example.com').isVisible());
  assert.ok(await row.getByText('signet-dashboard').isVisible());
  assert.ok(await row.locator('td[data-label="Client id"]').getByText('secret set').isVisible());
  assert.equal((await row.locator('td[data-label="Redirect URI"] code').textContent()).trim(), redirectUri);
  assert.equal((await row.locator('td[data-label="JIT users"]').textContent()).trim(), 'yes');

  // The same name again is refused next to the Name field (409 from the server).
  await add.getByLabel('Name', { exact: true }).fill('Acme Login');
  await add.getByLabel('Issuer URL').fill('https://other.example.com');
  await add.getByLabel('Client id').fill('x');
  await add.getByRole('button', { name: 'Add provider' }).click();
  await add.locator('#sso-add-name-error').waitFor();
  assert.equal(await add.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('tr', { hasText: 'other.example.com' }).count(), 0);

  // A mapping: members of signet-devs become developers of the payments project.
  const providers = await pageFetch(page, 'GET', '/v1/admin/sso/providers');
  const acme = providers.json.providers.find((p) => p.name === 'Acme Login');
  assert.ok(acme, providers.text);
  assert.equal(acme.hasClientSecret, true);
  const mappings = page.getByRole('region', { name: 'Mappings: Acme Login' });
  await mappings.getByText('No mappings yet').waitFor();
  assert.equal(await mappings.getByLabel('Claim').inputValue(), 'groups');
  await mappings.getByLabel('Value').fill('signet-devs');
  await mappings.getByLabel('Role').selectOption('developer');
  await mappings.getByLabel('payments').check();
  await mappings.getByRole('button', { name: 'Add mapping' }).click();
  const mrow = mappings.locator('tr', { hasText: 'signet-devs' });
  await mrow.waitFor();
  assert.ok(await mrow.getByText('developer').isVisible());
  assert.ok(await mrow.getByText('payments').isVisible());
  assert.equal(await add.getByLabel('Issuer URL').inputValue(), 'https://other.example.com', 'the half-filled form survived the reload');
  for (const label of ['Name', 'Issuer URL', 'Client id']) await add.getByLabel(label, { exact: true }).fill('');
  await mappings.getByLabel('Value').fill('signet-owners');
  await mappings.getByLabel('Role').selectOption('owner');
  await mappings.getByRole('button', { name: 'Add mapping' }).click();
  await mappings.locator('tr', { hasText: 'signet-owners' }).waitFor();
  await mappings.getByRole('button', { name: 'Delete mapping groups = signet-owners' }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Confirm' }).click();
  await mappings.locator('tr', { hasText: 'signet-owners' }).waitFor({ state: 'detached' });
  assert.equal(await mappings.locator('tr', { hasText: 'signet-devs' }).count(), 1);

  // Edit: the secret field starts empty (never shown back), and the change is kept.
  await page.getByRole('button', { name: 'Edit Acme Login' }).click();
  const edit = page.getByRole('dialog', { name: 'Edit Acme Login' });
  await edit.waitFor();
  assert.equal(await edit.getByLabel('Client secret', { exact: true }).inputValue(), '');
  await edit.getByText('A secret is set').waitFor();
  await edit.getByLabel('Name', { exact: true }).fill('Acme SSO');
  await edit.getByLabel('Enabled (offered on the sign-in page)').uncheck();
  await edit.getByRole('button', { name: 'Save provider' }).click();
  await edit.waitFor({ state: 'detached' });
  const edited = page.locator('tr', { hasText: 'Acme SSO' });
  await edited.waitFor();
  assert.equal((await edited.locator('td[data-label="Enabled"]').textContent()).trim(), 'disabled');
  assert.ok(await edited.locator('td[data-label="Client id"]').getByText('secret set').isVisible(), 'the secret was kept');
  assert.equal(await page.evaluate(() => document.activeElement.id), `sso-edit-${acme.id}`, 'focus back on Edit');
  const options = await pageFetch(page, 'GET', '/v1/auth/sso/providers');
  assert.deepEqual(options.json.providers, [], 'a disabled provider is not offered on the sign-in page');

  // The sign-in policy: requiring SSO without a break-glass owner is refused next to the field.
  const policy = page.locator('#sso-policy');
  const breakGlass = policy.getByLabel('Break-glass owner');
  assert.deepEqual(await breakGlass.locator('option').allTextContents(), ['None chosen', 'alice']);
  await policy.getByLabel('Require single sign-on').check();
  await policy.getByRole('button', { name: 'Save sign-in policy' }).click();
  assert.equal(await breakGlass.getAttribute('aria-invalid'), 'true');
  await policy.locator('#sso-break-glass-error').waitFor();
  await policy.getByLabel('Require single sign-on').uncheck();
  await breakGlass.selectOption({ label: 'alice' });
  await policy.getByLabel('Trust the provider\u2019s second factor').check();
  await policy.getByRole('button', { name: 'Save sign-in policy' }).click();
  await page.locator('#status', { hasText: 'Sign-in policy saved.' }).waitFor();
  const vault = (await pageFetch(page, 'GET', '/v1/admin/vault')).json;
  assert.equal(vault.ssoTrustProviderMfa, true);
  assert.equal(vault.ssoRequired, false);
  assert.ok(vault.breakGlassUser, JSON.stringify(vault));

  // The step-up dialog offers only what this person has: a TOTP code (no passkey registered, no
  // identity linked, so neither "Use a passkey" nor "Confirm with" although provider MFA is
  // trusted now). The sign-in just now counts as a step-up, so the server's 403 for a stale one
  // is played once here.
  await page.route('**/v1/admin/tokens/bootstrap', (route) => route.fulfill({
    status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'step-up required', code: 'step_up_required' }),
  }));
  await go(page, 'Tokens');
  await page.getByRole('button', { name: 'Issue bootstrap token' }).click();
  const stepUp = page.getByRole('dialog', { name: 'Confirm it is you' });
  await stepUp.getByLabel('Authenticator code').waitFor();
  assert.equal(await stepUp.getByRole('button', { name: 'Use a passkey' }).count(), 0);
  assert.equal(await stepUp.getByRole('link', { name: /^Confirm with/ }).count(), 0);
  await stepUp.getByRole('button', { name: 'Cancel' }).click();
  await stepUp.waitFor({ state: 'detached' });
  await page.unroute('**/v1/admin/tokens/bootstrap');
  await go(page, 'Single sign-on');
  await page.getByRole('button', { name: 'Delete Acme SSO' }).waitFor();

  // Delete: only once the name is typed exactly.
  await page.getByRole('button', { name: 'Delete Acme SSO' }).click();
  const del = page.getByRole('dialog', { name: 'Delete Acme SSO' });
  await del.waitFor();
  await del.getByText('its 1 mapping').waitFor();
  const confirm = del.getByRole('button', { name: 'Delete provider Acme SSO' });
  assert.equal(await confirm.isDisabled(), true);
  await del.getByLabel('Type Acme SSO to confirm').fill('Acme');
  assert.equal(await confirm.isDisabled(), true);
  await del.getByLabel('Type Acme SSO to confirm').fill('Acme SSO');
  await confirm.click();
  await del.waitFor({ state: 'detached' });
  await page.getByText('No providers yet').waitFor();
  assert.equal((await pageFetch(page, 'GET', '/v1/admin/sso/providers')).json.providers.length, 0);
  assert.ok(!(await page.content()).includes(SECRET), 'the client secret is on the page');
  assert.ok(!server.log.includes(SECRET), 'the client secret reached the server log');
  assert.deepEqual(page.problems, []);

  // A developer: no navigation entry, the page says who manages it, the API refuses uniformly.
  const kept = await pageFetch(page, 'POST', '/v1/admin/sso/providers', { name: 'Kept', issuer: 'https://kept.example.com', clientId: 'k' });
  assert.equal(kept.status, 200, kept.text);
  keptId = kept.json.id;
  dev = await createUser(page, { username: 'bob', email: 'bob@example.com', password: 'bob-password-long', role: 'developer' });
  const devPage = await newPage(browser);
  await login(devPage, server, dev);
  assert.equal(await devPage.getByRole('navigation').getByRole('link', { name: 'Single sign-on' }).count(), 0);
  await devPage.goto(`${server.url}/#/sso`);
  await devPage.getByText('Single sign-on is managed by owners.').waitFor();
  const denied = { error: 'access denied', code: 'access_denied' };
  for (const [method, path, body] of [
    ['GET', '/v1/admin/sso/providers'],
    ['GET', `/v1/admin/sso/providers/${kept.json.id}`],
    ['POST', '/v1/admin/sso/providers', { name: 'Evil', issuer: 'https://evil.example.com', clientId: 'e' }],
    ['POST', `/v1/admin/sso/providers/${kept.json.id}/update`, { enabled: false }],
    ['POST', `/v1/admin/sso/providers/${kept.json.id}/mappings`, { claim: 'groups', value: 'x', role: 'owner', projectIds: [] }],
    ['POST', `/v1/admin/sso/providers/${kept.json.id}/delete`, {}],
  ]) {
    const r = await pageFetch(devPage, method, path, body);
    assert.equal(r.status, 403, `developer ${method} ${path}: ${r.status} ${r.text}`);
    assert.deepEqual(r.json, denied, `${method} ${path}`);
  }
  const still = (await pageFetch(page, 'GET', '/v1/admin/sso/providers')).json.providers;
  assert.deepEqual(still.map((p) => [p.name, p.enabled, p.mappings.length]), [['Kept', true, 0]], 'nothing changed');
  assert.deepEqual(devPage.problems, []);
});

test('the sign-in page offers each provider, says when SSO failed, and keeps the password form for break-glass', async () => {
  assert.ok(keptId && dev, 'the first test made a provider and a developer');
  const anon = await newPage(browser);
  await anon.goto(`${server.url}/#/login`);
  const button = anon.getByRole('link', { name: 'Sign in with Kept' });
  await button.waitFor();
  assert.equal(await button.getAttribute('href'), `/v1/auth/sso/${keptId}/start`);
  assert.ok(await anon.getByLabel('Username or email').isVisible(), 'the password form is shown while SSO is optional');

  // Back from a refused sign-in: one generic message, nothing about why.
  await anon.goto('about:blank');
  await anon.goto(`${server.url}/#/login?sso=failed`);
  await anon.getByRole('alert').filter({ hasText: 'Single sign-on did not complete. Try again, or ask an administrator.' }).waitFor();

  // SSO required (alice is the break-glass owner since the first test): the password form sits
  // behind a disclosure, a developer's password sign-in is told to use SSO, alice still signs in.
  const mapped = await pageFetch(page, 'POST', `/v1/admin/sso/providers/${keptId}/mappings`, { claim: 'groups', value: 'devs', role: 'developer' });
  assert.equal(mapped.status, 200, mapped.text);
  const required = await pageFetch(page, 'POST', '/v1/admin/vault/settings', { ssoRequired: true });
  assert.equal(required.status, 200, required.text);
  await anon.goto('about:blank');
  await anon.goto(`${server.url}/#/login`);
  await anon.getByRole('link', { name: 'Sign in with Kept' }).waitFor();
  assert.equal(await anon.getByLabel('Username or email').isVisible(), false, 'the password form is behind the disclosure');
  await anon.getByText('Break-glass sign-in').click();
  await anon.getByLabel('Username or email').fill(dev.username);
  await anon.getByLabel('Password').fill(dev.password);
  await anon.getByLabel('Authenticator code').fill(await freshTotp(dev.totpSecret));
  await anon.getByRole('button', { name: 'Sign in', exact: true }).click();
  await anon.locator('#login-error', { hasText: 'This vault requires single sign-on.' }).waitFor();
  await anon.getByLabel('Username or email').fill(owner.username);
  await anon.getByLabel('Password').fill(owner.password);
  await anon.getByLabel('Authenticator code').fill(await freshTotp(owner.totpSecret));
  await anon.getByRole('button', { name: 'Sign in', exact: true }).click();
  await anon.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  assert.deepEqual(anon.problems, []);
});
