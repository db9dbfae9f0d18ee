// The dashboard's shell and shared parts (issue 16), in a real browser against a real server:
// a fresh vault's first request is no authentication failure, a used setup link says so before
// the form, step-up tells a wrong code from a used one and is audited as a step-up, a wrong
// current password is a field error (still signed in), server errors sit next to their field,
// pages show a loading state, action columns have a header, focus returns after a dialog, the
// overview names accounts under attack and guides a new vault, and a project-scoped developer
// is not offered pages their role cannot use.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, pageFetch, createUser, freshTotp } from './harness.js';
import { secretFromUri } from './totp.js';

let server;
let browser;
let page;
let owner;
let loginCode;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** The audit records so far, read with the owner's session. */
async function audit(filter = {}) {
  const r = await pageFetch(page, 'POST', '/v1/admin/audit/query', { limit: 500, ...filter });
  assert.equal(r.status, 200, r.text);
  return r.json.records;
}

test('a fresh vault: no failure record from opening it, a used setup link says so, copy buttons', async () => {
  page = await newPage(browser);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  // A person opens the dashboard before anything else: the shell asks who is signed in.
  await page.goto(`${server.url}/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  owner = await setupOwner(page, server);
  // The one-time values have copy buttons that say what they copy and that they did.
  const copy = page.getByRole('button', { name: 'Copy value' }).first();
  await copy.click();
  await page.getByRole('button', { name: 'Copied value' }).first().waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), owner.otpauthUri);
  // The setup link again: it says it is used, without the form.
  await page.goto('about:blank');
  await page.goto(server.setupUrl.replace(/^https?:\/\/[^/]+/, server.url));
  await page.locator('#setup-closed').waitFor();
  assert.match(await page.locator('#setup-closed').textContent(), /already used or has expired/);
  assert.equal(await page.getByLabel('Username').count(), 0, 'no form for a used link');

  loginCode = await login(page, server, owner);
  const refused = (await audit()).filter((r) => r.result !== 'ok');
  assert.deepEqual(refused.map((r) => `${r.action} ${r.detail}`), [], 'opening the dashboard is no failed authentication');
  assert.deepEqual(page.problems, []);
});

test('step-up: a wrong code is wrong, a used one says wait, no passkey offered, audited as a step-up; focus returns', async () => {
  assert.ok(owner, 'an earlier test signed in');
  // Signing in counts as a step-up, so the server's 403 for a stale one is played once; the
  // step-up itself is the real server.
  let played = false;
  await page.route('**/v1/admin/account/password', (route) => {
    if (played) return route.continue();
    played = true;
    return route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'step-up required', code: 'step_up_required' }) });
  });
  await page.goto(`${server.url}/#/account`);
  await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
  await page.getByLabel('Current password').fill(owner.password);
  await page.getByLabel('New password', { exact: true }).fill('another long passphrase 42');
  await page.getByLabel('Repeat new password').fill('another long passphrase 42');
  const submit = page.getByRole('button', { name: 'Change password' });
  await submit.click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.waitFor();
  assert.equal(await dialog.getByRole('button', { name: 'Use a passkey' }).count(), 0, 'no passkey registered, none offered');
  const code = dialog.getByLabel('Authenticator code');
  const wrong = String((Number(await freshTotp(owner.totpSecret)) + 500000) % 1000000).padStart(6, '0');
  await code.fill(wrong);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.getByText(/^Wrong code/).waitFor();
  assert.equal(await code.getAttribute('aria-invalid'), 'true');
  const described = await code.getAttribute('aria-describedby');
  assert.match(await page.locator(`[id="${described.split(' ').pop()}"]`).textContent(), /Wrong code/);
  // The code that signed in was right, and is used: only then "wait for the next one".
  await code.fill(loginCode);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.getByText(/used already/).waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await page.waitForFunction(() => document.activeElement && document.activeElement.textContent === 'Change password');
  await page.locator('form .form-alert', { hasText: 'nothing was changed' }).waitFor();
  await page.unroute('**/v1/admin/account/password');

  const stepUps = await audit({ action: 'session_step_up', result: 'denied' });
  assert.equal(stepUps.length, 2, 'both refusals recorded as step-ups');
  assert.ok(stepUps.some((r) => /reason=code_reused/.test(r.detail)));
  assert.ok(stepUps.every((r) => r.actorKind === 'operator' && r.actorId), 'by the signed-in person');
  assert.deepEqual(await audit({ action: 'user_login', result: 'denied' }), [], 'not a failed sign-in');
  assert.deepEqual(page.problems, []);
});

test('a wrong current password is a field error and the person stays signed in', async () => {
  assert.ok(owner, 'an earlier test signed in');
  await page.goto(`${server.url}/#/account`);
  await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
  await page.getByLabel('Current password').fill('this is not my password');
  await page.getByLabel('New password', { exact: true }).fill('another long passphrase 42');
  await page.getByLabel('Repeat new password').fill('another long passphrase 42');
  await page.getByRole('button', { name: 'Change password' }).click();
  const current = page.getByLabel('Current password');
  await page.getByText('The current password is not right.').waitFor();
  assert.equal(await current.getAttribute('aria-invalid'), 'true');
  assert.match(await current.getAttribute('aria-describedby'), /pw-current-error/);
  assert.equal(await page.evaluate(() => location.hash), '#/account', 'still on the account page');
  assert.equal((await pageFetch(page, 'GET', '/v1/auth/session', undefined, { csrf: false })).status, 200, 'still signed in');
  // Action columns have a header a screen reader reads.
  const blank = await page.locator('main th').evaluateAll((ths) => ths.filter((th) => !th.textContent.trim()).length);
  assert.equal(blank, 0, 'no blank table header');
  assert.deepEqual(page.problems, []);
});

test('a server error sits next to its field in plain words', async () => {
  await pageFetch(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  await page.goto(`${server.url}/#/projects`);
  await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
  const name = page.getByLabel('New project name');
  await name.fill('payments');
  await name.press('Enter');
  await page.getByText('A project with this name already exists. Choose another name.').waitFor();
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  assert.ok(await name.evaluate((el) => el === document.activeElement), 'focus on the field to fix');
  assert.equal(await page.getByText('conflict: project_name').count(), 0, 'no code words');
  // The field's own constraints are field errors too, not the browser's passing bubble.
  await name.fill('');
  await name.press('Enter');
  await page.getByText('Fill in this field.').waitFor();
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  assert.deepEqual(page.problems, []);
});

test('a page keeps the old one, marked busy, until its data is there; the navigation moves with it', async () => {
  await page.goto(`${server.url}/#/`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  let release;
  const held = new Promise((ok) => { release = ok; });
  await page.route('**/v1/admin/account', async (route) => { await held; await route.continue(); });
  try {
    await page.getByRole('navigation').getByRole('link', { name: 'Account', exact: true }).click();
    await page.waitForFunction(() => document.getElementById('main').getAttribute('aria-busy') === 'true');
    assert.equal(await page.locator('main h1').textContent(), 'Overview', 'the old page stays while loading');
    assert.equal(await page.locator('nav [aria-current="page"]').textContent(), 'Overview', 'the highlight waits too');
  } finally {
    release();
  }
  await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
  await page.waitForFunction(() => !document.getElementById('main').hasAttribute('aria-busy'));
  assert.equal(await page.locator('nav [aria-current="page"]').textContent(), 'Account');
  await page.unroute('**/v1/admin/account');
  assert.deepEqual(page.problems, []);
});

test('the overview names an account under attack and its lockout, and guides a new vault', async () => {
  const bob = await createUser(page, { username: 'bob', email: 'bob@example.com', password: 'bob-password-long', role: 'developer' });
  const stranger = await newPage(browser);
  await stranger.goto(`${server.url}/#/login`);
  for (let i = 0; i < 5; i++) {
    const r = await pageFetch(stranger, 'POST', '/v1/auth/session', { login: 'bob', password: `wrong password ${i}`, totp: '000000' }, { csrf: false });
    assert.equal(r.status, 401, r.text);
  }
  await stranger.context().close();
  await page.goto(`${server.url}/#/`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.getByRole('alert').filter({ hasText: 'Account bob: 5 failed sign-ins' }).waitFor();
  assert.ok(await page.getByText('sign-in as bob').count() > 0, 'the recent activity names the account');
  // The guide: a project exists (step 1 done), no secret and no machine yet.
  const guide = page.locator('#first-run');
  await guide.waitFor();
  assert.match(await guide.locator('li').nth(0).textContent(), /Done/);
  assert.match(await guide.locator('li').nth(1).textContent(), /To do/);
  assert.ok(bob.id);
  assert.deepEqual(page.problems, []);
});

test('a project-scoped developer is not offered the token list, the audit log or admin pages', async () => {
  const projects = (await pageFetch(page, 'GET', '/v1/admin/projects')).json.projects;
  const made = await pageFetch(page, 'POST', '/v1/admin/users', {
    username: 'dana', email: 'dana@example.com', password: 'dana-password-long', role: 'developer', projects: [projects[0].id],
  });
  assert.equal(made.status, 200, made.text);
  const dana = { username: 'dana', password: 'dana-password-long', totpSecret: secretFromUri(made.json.otpauthUri) };
  const dp = await newPage(browser);
  await login(dp, server, dana);
  const session = (await pageFetch(dp, 'GET', '/v1/auth/session', undefined, { csrf: false })).json;
  assert.ok(session.permissions.includes('write_secrets') && !session.permissions.includes('manage_tokens'), JSON.stringify(session.permissions));
  const nav = dp.getByRole('navigation');
  assert.equal(await nav.getByRole('link', { name: 'Secrets', exact: true }).count(), 1);
  for (const hidden of ['Users', 'Single sign-on', 'Alerts']) {
    assert.equal(await nav.getByRole('link', { name: hidden, exact: true }).count(), 0, `${hidden} hidden`);
  }
  assert.equal(session.scoped, true, 'the developer is limited to one project');
  for (const hidden of ['Tokens', 'Audit log', 'Workload identity', 'AI agents', 'Root keys']) {
    assert.equal(await nav.getByRole('link', { name: hidden, exact: true }).count(), 0, `${hidden} hidden from a scoped developer`);
  }
  await dp.goto(`${server.url}/#/tokens`);
  await dp.getByText(/cannot use this page/).waitFor();
  assert.deepEqual(dp.problems, []);
});
