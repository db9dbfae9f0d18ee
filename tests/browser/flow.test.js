// The whole newcomer path in a real browser, with a real machine enrolled from a shell: first-run
// setup, sign-in with password and TOTP, a project and a secret, a bootstrap token, approval by
// fingerprint, attach and grant, and the machine reading the value.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, confirmEnrollment, login, signet, hasRoute, freshTotp, go, ok } from './harness.js';
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

test('setup, sign in, add a secret, enroll and approve a machine, and the machine reads it', async (t) => {
  assert.ok(await hasRoute(server.url, 'POST', '/v1/auth/setup'), 'the server routes POST /v1/auth/setup');
  page = await newPage(browser);

  owner = await setupOwner(page, server);
  assert.equal(owner.recoveryCodes.length, 10, 'ten recovery codes are shown once');
  // The new authenticator is confirmed with a code before it counts; the right code signs in.
  loginCode = await confirmEnrollment(page, owner);
  await page.getByRole('button', { name: /continue/i }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();

  await go(page, 'Projects');
  await page.getByLabel('New project name').fill('payments');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.locator('tr', { hasText: 'payments' }).waitFor();

  const value = 'postgres://app:s3cr3t@db/payments';
  await go(page, 'Secrets');
  await page.getByLabel('Name', { exact: true }).fill('DATABASE_URL');
  await page.getByLabel('Value').fill(value);
  await page.getByRole('button', { name: 'Create secret' }).click();
  await page.locator('tr', { hasText: 'DATABASE_URL' }).waitFor();
  assert.equal(await page.getByText(value).count(), 0, 'the value is never shown back');

  await go(page, 'Tokens');
  await page.getByRole('button', { name: 'Issue bootstrap token' }).click();
  const command = (await page.locator('#bootstrap-result code').textContent()).trim();
  assert.match(command, /^curl -fsSL '?http:\/\/localhost:\d+\/v1\/bootstrap\/\S+'? \| sh$/);
  const token = command.match(/\/v1\/bootstrap\/([^'\s]+)/)[1];

  const home = server.home('machine');
  const enrolled = await signet(home, ['--json', 'enroll', '--server', server.url, '--token', token, '--name', 'web-1']);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const { fingerprint } = JSON.parse(enrolled.stdout);
  assert.ok(fingerprint);

  await go(page, 'Machines');
  const row = page.locator('section', { has: page.getByRole('heading', { name: 'Waiting for approval' }) }).locator('tr', { hasText: 'web-1' });
  await row.waitFor();
  assert.equal((await row.locator('.fingerprint').textContent()).trim(), fingerprint, 'the fingerprint the machine printed');
  await row.getByRole('button', { name: 'Approve' }).click();
  await page.getByRole('dialog').getByText(fingerprint).waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'Approve web-1' }).click();
  await page.getByRole('link', { name: 'web-1', exact: true }).click();
  await page.getByRole('heading', { name: 'web-1' }).waitFor();
  await page.getByText('active', { exact: true }).first().waitFor();

  await page.getByLabel('Project', { exact: true }).selectOption({ label: 'payments' });
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

test('secrets lifecycle, tokens, allowlist and the audit log from the dashboard', async (t) => {
  assert.ok(page, 'an earlier test in this file signed in');
  // A structured secret, updated, rolled back and deleted.
  await page.goto(`${server.url}/#/secrets`);
  await page.getByRole('heading', { name: 'Secrets', level: 1, exact: true }).waitFor();
  await page.getByLabel('Name', { exact: true }).fill('STRIPE');
  await page.getByLabel('Type').selectOption('structured');
  await page.getByLabel('Field name').fill('publishable_key');
  await page.getByLabel('Field value').fill('pk_live_1');
  await page.getByRole('button', { name: 'Add field' }).click();
  await page.getByLabel('Field name').nth(1).fill('secret_key');
  await page.getByLabel('Field value').nth(1).fill('sk_live_1');
  await page.getByRole('button', { name: 'Create secret' }).click();
  const row = page.locator('tr', { hasText: 'STRIPE' });
  await row.getByText('publishable_key, secret_key').waitFor();
  await row.getByRole('button', { name: 'Update' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Field value').first().fill('pk_live_2');
  await dialog.getByLabel('Field value').nth(1).fill('sk_live_2');
  await dialog.getByRole('button', { name: 'Save new version' }).click();
  await page.locator('#status', { hasText: 'version 2' }).waitFor();
  await page.locator('tr', { hasText: 'STRIPE' }).getByRole('button', { name: 'Versions' }).click();
  const versions = page.getByRole('dialog', { name: 'Versions of STRIPE' });
  await versions.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '2', exact: true }) }).getByText('current').waitFor();
  await versions.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '1', exact: true }) })
    .getByRole('button', { name: 'Roll back' }).click();
  await page.locator('#status', { hasText: 'version 3 has the value of version 1' }).waitFor();
  await page.locator('tr', { hasText: 'STRIPE' }).getByRole('cell', { name: '3', exact: true }).waitFor();
  await page.locator('tr', { hasText: 'STRIPE' }).getByRole('button', { name: 'Delete STRIPE' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete STRIPE' }).click();
  await page.locator('#status', { hasText: 'STRIPE deleted' }).waitFor();
  await page.locator('tr', { hasText: 'STRIPE' }).waitFor({ state: 'detached' });

  // An enrollment token, shown once, then revoked.
  await go(page, 'Tokens');
  await page.getByLabel('Name', { exact: true }).fill('ci runners');
  await page.getByLabel('payments', { exact: true }).check();
  await page.getByRole('button', { name: 'Create enrollment token' }).click();
  await page.locator('#enroll-result code').first().waitFor();
  const tokenRow = page.locator('tr', { hasText: 'ci runners' });
  await tokenRow.getByText('active').waitFor();
  await tokenRow.getByRole('button', { name: 'Revoke ci runners' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke ci runners' }).click();
  await page.locator('tr', { hasText: 'ci runners' }).getByText('revoked').waitFor();

  // An allowlist range added and removed (the list stays off, so this browser keeps access).
  await go(page, 'IP allowlist');
  await page.getByLabel('CIDR').fill('10.0.0.0/8');
  await page.getByLabel('Label').fill('office');
  await page.getByRole('button', { name: 'Add range' }).click();
  const range = page.locator('tr', { hasText: '10.0.0.0/8' });
  await range.waitFor();
  await range.getByRole('button', { name: 'Remove 10.0.0.0/8' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Remove 10.0.0.0/8' }).click();
  await page.locator('#status', { hasText: 'removed' }).waitFor();

  // The audit log shows what happened and exports it as CSV.
  await go(page, 'Audit log');
  await page.getByLabel('Result').selectOption('ok');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.locator('#audit-records[aria-busy="false"] tbody tr').first().waitFor();
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export CSV' }).click();
  const csv = await (await download).createReadStream();
  let text = '';
  for await (const chunk of csv) text += chunk;
  const lines = text.trim().split('\r\n');
  assert.equal(lines[0], 'seq,ts,time,actorKind,actorId,action,target,sourceIp,result,detail,hash,actorName');
  assert.ok(lines.length > 3, text);
  assert.ok(lines.slice(1).every((l) => l.includes(',ok,')), 'the filter applies to the export');
  assert.deepEqual(page.problems, []);
});

test('a sensitive action asks for a fresh second factor, refuses a reused code, then goes through', async (t) => {
  assert.ok(owner, 'an earlier test in this file signed in');
  // The sign-in just now counts as a step-up for five minutes; the server's 403 for a stale one
  // is played once here, and everything after it (step-up, retry) is the real server.
  let played = false;
  await page.route('**/v1/admin/tokens/bootstrap', async (route) => {
    if (played) return route.continue();
    played = true;
    return route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'step-up required', code: 'step_up_required' }) });
  });
  await page.goto(`${server.url}/#/tokens`);
  await page.getByRole('button', { name: 'Issue bootstrap token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.waitFor();
  await dialog.getByLabel('Authenticator code').fill(loginCode);
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await dialog.getByText(/used already/).waitFor();
  await dialog.getByLabel('Authenticator code').fill(await freshTotp(owner.totpSecret));
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('#bootstrap-result code').waitFor();
  assert.match(await page.locator('#bootstrap-result code').textContent(), /\/v1\/bootstrap\//);
  assert.equal(await dialog.count(), 0, 'the dialog closed');
  await page.unroute('**/v1/admin/tokens/bootstrap');
  assert.deepEqual(page.problems, []);
});

test('an invitation link lets a new person choose a password, enroll TOTP and sign in with their role', async (t) => {
  assert.ok(owner, 'an earlier test in this file signed in');
  assert.ok(await hasRoute(server.url, 'POST', '/v1/auth/invite/accept'), 'the server routes POST /v1/auth/invite/accept');
  await page.goto(`${server.url}/#/users`);
  await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
  await page.getByLabel('Email').first().fill('carol@example.com');
  await page.locator('#invite-role').selectOption('developer');
  await page.getByRole('button', { name: 'Create invitation' }).click();
  const link = (await page.locator('#invite-result code').textContent()).trim();
  assert.match(link, /^http:\/\/localhost:\d+\/#\/invite\/\S+$/);

  const carolPage = await newPage(browser);
  await carolPage.goto(link);
  await carolPage.getByRole('heading', { name: 'Accept invitation' }).waitFor();
  const carol = { username: 'carol', password: 'carol-password-long' };
  await carolPage.getByLabel('Username').fill(carol.username);
  await carolPage.getByLabel('Password', { exact: true }).fill(carol.password);
  await carolPage.getByLabel('Repeat password').fill(carol.password);
  await carolPage.getByRole('button', { name: 'Create account' }).click();
  await carolPage.locator('#recovery-codes li').first().waitFor();
  assert.equal(await carolPage.locator('#recovery-codes li').count(), 10);
  carol.totpSecret = secretFromUri(await carolPage.locator('code').first().textContent());
  // Carol leaves without confirming: her first sign-in with a right code confirms the seed.
  await login(carolPage, server, carol);
  await carolPage.locator('.who .badge', { hasText: 'developer' }).waitFor();
  assert.equal(await carolPage.getByRole('navigation').getByRole('link', { name: 'Users', exact: true }).count(), 0);
  assert.deepEqual(carolPage.problems, []);
  await carolPage.close();
});

test('the first-run guide: on a fresh vault, each step ticks as it happens, a waiting machine does not count, and it goes once done', async () => {
  // A vault of its own: the guide only shows while the vault is new.
  const fresh = await startServer();
  const p = await newPage(browser);
  try {
    const who = await setupOwner(p, fresh);
    await login(p, fresh, who);
    const guide = p.locator('#first-run');
    const states = async () => {
      // Through another page, so the overview renders afresh.
      await p.goto(`${fresh.url}/#/account`);
      await p.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
      await p.goto(`${fresh.url}/#/`);
      await p.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
      await p.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
      if (!await guide.count()) return null;
      return (await guide.locator('li').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
    };
    const call = (method, path, body) => ok(p, method, path, body);
    assert.deepEqual(await states(), ['To do Create a project', 'To do Add a secret to it', 'To do Enroll a machine'], 'a fresh vault is guided');
    assert.equal(await guide.getByRole('link', { name: 'Create a project' }).getAttribute('href'), '#/projects');

    const project = await call('POST', '/v1/admin/projects', { name: 'first' });
    assert.deepEqual(await states(), ['Done Create a project', 'To do Add a secret to it', 'To do Enroll a machine']);
    await call('POST', '/v1/admin/secrets', { projectId: project.id, name: 'API_KEY', value: 'first-value' });
    assert.deepEqual(await states(), ['Done Create a project', 'Done Add a secret to it', 'To do Enroll a machine']);

    // A tokenless request anyone could file is not an enrolled machine.
    const vaultId = (await call('GET', '/v1/admin/vault')).vaultId;
    const asked = await signet(fresh.home('asker'), ['--json', 'enroll', '--server', fresh.url, '--vault', vaultId, '--request', '--name', 'asker']);
    assert.equal(asked.code, 0, asked.stderr);
    assert.deepEqual(await states(), ['Done Create a project', 'Done Add a secret to it', 'To do Enroll a machine'], 'a waiting machine does not tick the step');
    assert.equal(await guide.getByRole('link', { name: 'Enroll a machine' }).getAttribute('href'), '#/machines', 'the step points at the machine waiting');

    const { machineId, fingerprint } = JSON.parse(asked.stdout);
    await call('POST', `/v1/admin/machines/${machineId}/approve`, { fingerprint });
    assert.equal(await states(), null, 'the guide is gone once every step is done');
    assert.equal(await p.getByRole('heading', { name: 'Get started' }).count(), 0);
    assert.deepEqual(p.problems, []);
  } finally {
    await p.close();
    await fresh.stop();
  }
});
