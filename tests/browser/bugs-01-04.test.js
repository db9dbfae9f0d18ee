// Issue 16, bugs 1 to 4 (a wrong current password, the Users page, the audit action filter, people's names):
// one test each, named "bug N: …", whose first assertion is the bug as a person met it (where
// the page goes, what it says, what the server then holds), not the presence of a new element.
// Each runs alone too: scripts/dashboard-bugs.sh runs it against the dashboard before the fixes
// (it must fail) and after (it must pass); docs/dashboard-bugs.md has the table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, pageFetch, go, sleep, signet } from './harness.js';
import { operatorLogin } from './operator.js';
import { secretFromUri } from './totp.js';
import {
  setUp, server, browser, tag, eventually, signedInAs, project, openPage, mainText, asOwner,
} from './bugs.js';

setUp();

test('bug 1: a wrong current password in "Change password" keeps the person signed in, on the page, with a field error', async () => {
  const { page } = await signedInAs('developer');
  await openPage(page, 'account', 'Account');
  await page.getByLabel('Current password').fill('this is not my password');
  await page.getByLabel('New password', { exact: true }).fill('another long passphrase 42');
  await page.getByLabel('Repeat new password').fill('another long passphrase 42');
  const answered = page.waitForResponse((r) => r.url().endsWith('/v1/admin/account/password'));
  await page.getByRole('button', { name: 'Change password' }).click();
  await answered;
  await eventually(async () => (await page.evaluate(() => location.hash)) !== '#/account'
    || (await page.getByText('The current password is not right.').count()) > 0);
  await sleep(500);
  assert.equal(await page.evaluate(() => location.hash), '#/account', 'the person is left on the account page, not sent to sign in');
  assert.equal((await pageFetch(page, 'GET', '/v1/auth/session', undefined, { csrf: false })).status, 200, 'still signed in');
  const current = page.getByLabel('Current password');
  assert.equal(await current.getAttribute('aria-invalid'), 'true', 'the error is on the field');
  assert.deepEqual(page.problems, []);
});

test('bug 2: the Users page shows a new invitation at once and its acceptance without a reload', async () => {
  const { page } = await signedInAs('admin');
  await go(page, 'Users');
  const email = `${tag('invitee')}@example.com`;
  await page.locator('#invite-email').fill(email);
  await page.getByRole('button', { name: 'Create invitation' }).click();
  const link = (await page.locator('#invite-result code').first().textContent()).trim();
  const listed = await eventually(() => page.locator('main tr', { hasText: email }).count());
  assert.ok(listed > 0, `the new invitation is listed as pending at once: no row names ${email}\n${await mainText(page)}`);

  const username = tag('dora').replace(/-/g, '_');
  const dora = await newPage(browser);
  await dora.goto(link);
  await dora.getByRole('heading', { name: 'Accept invitation' }).waitFor();
  await dora.getByLabel('Username').fill(username);
  await dora.getByLabel('Password', { exact: true }).fill('dora-password-long');
  await dora.getByLabel('Repeat password').fill('dora-password-long');
  await dora.getByRole('button', { name: 'Create account' }).click();
  await dora.locator('#recovery-codes li').first().waitFor();
  await dora.close();
  const joined = await eventually(() => page.locator('main tr', { hasText: username }).count(), 20000);
  assert.ok(joined > 0, 'the accepted invitation shows its new user without a reload');
  assert.deepEqual(page.problems, []);
});

test('bug 3: the audit action filter\'s example is a real action, and part of a name finds its records', async () => {
  const { page } = await signedInAs('admin');
  await project(page, tag('audited'));
  await go(page, 'Audit log');
  const action = page.getByLabel('Action', { exact: true });
  const example = (await action.getAttribute('placeholder')) || '';
  assert.match(example.split(/\s+/)[0], /^[a-z]+(_[a-z]+)+$/, `the example "${example}" is an action as the server writes it`);
  await action.fill('project.create');
  const answered = page.waitForResponse((r) => r.url().endsWith('/v1/admin/audit/query'));
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await answered;
  const rows = page.locator('#audit-records tbody tr', { hasText: 'project_create' });
  assert.ok(await eventually(() => rows.count()) > 0, `"project.create" finds the project_create records; the page shows:\n${await page.locator('#audit-records').innerText()}`);
  await action.fill('create');
  const again = page.waitForResponse((r) => r.url().endsWith('/v1/admin/audit/query'));
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await again;
  assert.ok(await eventually(() => rows.count()) > 0, 'part of a name ("create") finds them too');
  assert.deepEqual(page.problems, []);
});

test('bug 4: the audit log and a secret\'s versions name the person, not a session key id', async () => {
  const { page, who } = await signedInAs('admin');
  const { id, secretId } = await project(page, tag('named'), { name: 'NAMED_KEY', value: 'v1' });
  const up = await pageFetch(page, 'POST', `/v1/admin/secrets/${secretId}/update`, { value: 'v2' });
  assert.equal(up.status, 200, up.text);
  await go(page, 'Audit log');
  const row = page.locator('#audit-records tbody tr', { hasText: 'project_create' }).filter({ hasText: id }).first();
  await row.waitFor();
  const actor = await row.locator('td').nth(1).innerText();
  assert.ok(actor.includes(who.username), `the Actor column names ${who.username}: "${actor}"`);

  await openPage(page, `secrets/${id}`, 'Secrets');
  await page.locator('tr', { hasText: 'NAMED_KEY' }).getByRole('button', { name: /^Versions/ }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByRole('table').waitFor();
  const by = await dialog.getByRole('table').innerText();
  assert.ok(by.includes(who.username), `the versions name their author ${who.username}:\n${by}`);
  assert.deepEqual(page.problems, []);
});

test('bug 2: a revoked invitation leaves the pending list at once, and its link says so before the form', async () => {
  const { page } = await signedInAs('admin');
  await go(page, 'Users');
  const email = `${tag('revoked')}@example.com`;
  await page.locator('#invite-email').fill(email);
  await page.getByRole('button', { name: 'Create invitation' }).click();
  const link = (await page.locator('#invite-result code').first().textContent()).trim();
  const row = page.locator('#invites-list tr', { hasText: email });
  await row.waitFor();
  await row.getByRole('button', { name: `Revoke invitation for ${email}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: `Revoke invitation for ${email}` }).click();
  await row.waitFor({ state: 'detached', timeout: 5000 });

  const invitee = await newPage(browser);
  await invitee.goto(link);
  await invitee.getByRole('heading', { name: 'Accept invitation', level: 1 }).waitFor();
  await eventually(async () => (await invitee.getByLabel('Username').count()) > 0 || (await invitee.locator('#invite-closed').count()) > 0);
  assert.equal(await invitee.getByLabel('Username').count(), 0, 'no form for a revoked invitation');
  assert.match(await invitee.locator('#invite-closed').innerText(), /revoked/);
  assert.deepEqual(invitee.problems, []);
  assert.deepEqual(page.problems, []);
});

test('bug 2: an invitation revoked by someone else, or accepted in another browser, leaves the pending list without a reload', async () => {
  const { page } = await signedInAs('admin');
  const gone = `${tag('elsewhere')}@example.com`;
  const taken = `${tag('accepted')}@example.com`;
  const a = await pageFetch(page, 'POST', '/v1/admin/users/invite', { email: gone, role: 'viewer' });
  const b = await pageFetch(page, 'POST', '/v1/admin/users/invite', { email: taken, role: 'viewer' });
  assert.equal(a.status, 200, a.text);
  assert.equal(b.status, 200, b.text);
  await go(page, 'Users');
  const pending = page.locator('#invites-list');
  await pending.locator('tr', { hasText: gone }).waitFor();
  await pending.locator('tr', { hasText: taken }).waitFor();

  // Another administrator's browser revokes one; a new person accepts the other.
  const { page: other } = await signedInAs('admin');
  const r = await pageFetch(other, 'POST', `/v1/admin/users/invites/${a.json.inviteId}/revoke`, {});
  assert.equal(r.status, 200, r.text);
  const username = tag('kai').replace(/-/g, '_');
  const kai = await newPage(browser);
  await kai.goto(b.json.inviteUrl.replace(/^https?:\/\/[^/]+/, server.url));
  await kai.getByLabel('Username').fill(username);
  await kai.getByLabel('Password', { exact: true }).fill('kai-password-long-7');
  await kai.getByLabel('Repeat password').fill('kai-password-long-7');
  await kai.getByRole('button', { name: 'Create account' }).click();
  await kai.locator('#recovery-codes li').first().waitFor();

  await pending.locator('tr', { hasText: gone }).waitFor({ state: 'detached', timeout: 20000 });
  await pending.locator('tr', { hasText: taken }).waitFor({ state: 'detached', timeout: 20000 });
  await page.locator('#users-list tr', { hasText: username }).waitFor({ timeout: 20000 });
  assert.deepEqual(page.problems, []);
  assert.deepEqual(kai.problems, []);
});

test('bug 4: a change from the CLI is named after its person in the versions and the audit log, and the Person filter finds it', async () => {
  const { page } = await signedInAs('admin');
  const username = tag('cli_dev').replace(/-/g, '_');
  const made = await asOwner('POST', '/v1/admin/users', {
    username, email: `${username}@example.com`, password: `${username} long password`, role: 'developer',
  });
  assert.equal(made.status, 200, made.text);
  const dev = { email: `${username}@example.com`, password: `${username} long password`, recoveryCodes: made.json.recoveryCodes,
    totpSecret: secretFromUri(made.json.otpauthUri) };
  const { id, secretId } = await project(page, tag('cli-named'), { name: 'CLI_KEY', value: 'v1' });
  const home = await operatorLogin(server, dev, tag('cli-home'));
  const up = await signet(home, ['secret', 'update', secretId, '--value', 'v2']);
  assert.equal(up.code, 0, up.stderr);

  await openPage(page, `secrets/${id}`, 'Secrets');
  await page.locator('tr', { hasText: 'CLI_KEY' }).getByRole('button', { name: /^Versions/ }).click();
  const versions = page.getByRole('dialog').getByRole('table');
  await versions.waitFor();
  const newest = await versions.locator('tbody tr').first().innerText();
  assert.ok(newest.includes(username), `the CLI's version names ${username}: "${newest}"`);
  assert.doesNotMatch(newest, /\bop_[A-Za-z0-9]+|[0-9a-f]{8}-[0-9a-f]{4}-/, 'no key id where the person should be');
  await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

  await go(page, 'Audit log');
  await page.getByLabel('Person').selectOption({ label: username });
  const answered = page.waitForResponse((r) => r.url().endsWith('/v1/admin/audit/query'));
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await answered;
  const rows = page.locator('#audit-records tbody tr');
  await rows.filter({ hasText: 'secret_update' }).first().waitFor();
  for (const actor of await rows.locator('td:nth-child(3)').allInnerTexts()) {
    assert.ok(actor.includes(username), `every record the filter finds is ${username}'s: "${actor}"`);
  }
  assert.deepEqual(page.problems, []);
});
