// The dashboard's pages as a new administrator uses them (issue 16): the audit log names people
// and finds actions by part of their name, the Users page follows invitations without a reload,
// an enrollment token's command carries every flag and pre-grants secrets a real machine then
// reads, pending machines say how they asked and a tokenless one needs its fingerprint typed,
// removing an allowlist range says which machines it cuts off, and the Users list is searched,
// filtered and copies ids (as the audit log does).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, signet, pageFetch, go } from './harness.js';

let server;
let browser;
let page;
let owner;

before(async () => {
  server = await startServer();
  browser = await launch();
  page = await newPage(browser);
  owner = await setupOwner(page, server);
  await login(page, server, owner);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A project and a standard secret made through the admin API, as the dashboard sends them. */
async function projectWithSecret(project, name, value) {
  const p = await pageFetch(page, 'POST', '/v1/admin/projects', { name: project });
  assert.equal(p.status, 200, p.text);
  const s = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId: p.json.id, name, value });
  assert.equal(s.status, 200, s.text);
  return { projectId: p.json.id, secretId: s.json.id };
}

test('the audit log names the person, offers the real action names and finds part of one', async () => {
  await projectWithSecret('audited', 'AUDITED_KEY', 'v-audited-1');
  await go(page, 'Audit log');
  const records = page.locator('#audit-records');
  // Actor: the username, not only the session's key id.
  await records.locator('tr', { hasText: 'project_create' }).locator('.actor-name', { hasText: owner.username }).waitFor();

  // The picker offers the server's own vocabulary: real names with underscores.
  const options = await page.locator('#audit-action-list option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(options.includes('machine_approve'), 'the action picker lists machine_approve');
  assert.ok(options.includes('project_create'));
  assert.ok(!options.some((o) => o.includes('.')), 'no made-up dotted names');
  assert.match(await page.locator('#audit-action').getAttribute('placeholder'), /machine_approve/);

  // Part of a name, written with a dot as people do, finds the records.
  await page.locator('#audit-action').fill('project.create');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  // The list is replaced once the answer is in: wait for the other records to go.
  await records.locator('tbody tr', { hasNotText: 'project_create' }).first().waitFor({ state: 'detached' });
  await records.locator('tr', { hasText: 'project_create' }).first().waitFor();
  assert.equal(await records.locator('tbody tr', { hasNotText: 'project_create' }).count(), 0, 'only project_create records');

  // The person picker finds the owner's records under every session key.
  await page.locator('#audit-action').fill('secret');
  await page.locator('#audit-person').selectOption({ label: owner.username });
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await records.locator('tbody tr', { hasText: 'project_create' }).first().waitFor({ state: 'detached' });
  await records.locator('tr', { hasText: 'secret_create' }).first().waitFor();
  const actors = await records.locator('tbody .actor-name').allTextContents();
  assert.ok(actors.length > 0);
  assert.ok(actors.every((a) => a === owner.username), `every record is the owner's: ${actors}`);
  // And over the API: the same filter by user id, the raw id kept next to the name.
  const r = await pageFetch(page, 'POST', '/v1/admin/audit/query', { actorUserId: (await me()).id, action: 'secret_create' });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.records.length >= 1);
  for (const rec of r.json.records) {
    assert.equal(rec.actorName, owner.username);
    assert.match(rec.actorId, /\S/);
  }
  assert.deepEqual(page.problems, []);
});

async function me() {
  const s = await pageFetch(page, 'GET', '/v1/auth/session', undefined, { csrf: false });
  return s.json.user;
}

test('the Users page shows a new invitation and its acceptance without a reload', async () => {
  await go(page, 'Users');
  await page.locator('#invite-email').fill('dora@example.com');
  await page.locator('#invite-role').selectOption('developer');
  await page.getByRole('button', { name: 'Create invitation' }).click();
  const link = (await page.locator('#invite-result code').first().textContent()).trim();
  // Listed at once as pending, with a named revoke button.
  const pending = page.locator('#invites-list');
  await pending.locator('tr', { hasText: 'dora@example.com' }).waitFor();
  await pending.getByRole('button', { name: 'Revoke invitation for dora@example.com' }).waitFor();

  // Dora accepts in her own browser; the owner's page follows without any navigation.
  const dora = await newPage(browser);
  await dora.goto(link);
  await dora.getByRole('heading', { name: 'Accept invitation' }).waitFor();
  await dora.getByLabel('Username').fill('dora');
  await dora.getByLabel('Password', { exact: true }).fill('dora-password-long');
  await dora.getByLabel('Repeat password').fill('dora-password-long');
  await dora.getByRole('button', { name: 'Create account' }).click();
  await dora.locator('#recovery-codes li').first().waitFor();
  await dora.close();

  await page.locator('#users-list tr', { hasText: 'dora@example.com' }).waitFor({ timeout: 20000 });
  await pending.locator('tr', { hasText: 'dora@example.com' }).waitFor({ state: 'detached', timeout: 20000 });
  assert.deepEqual(page.problems, []);
});

test('an enrollment token shows the whole command and pre-grants a secret a real machine reads', async () => {
  const value = 'pre-granted-7f3c2a';
  const { secretId } = await projectWithSecret('ci', 'CI_DEPLOY_KEY', value);
  await go(page, 'Tokens');
  await page.locator('#tok-name').fill('ci runners');
  await page.getByLabel('CI_DEPLOY_KEY (ci)').check();
  await page.getByRole('button', { name: 'Create enrollment token' }).click();
  const command = (await page.locator('#enroll-result code').first().textContent()).trim();
  const vault = (await pageFetch(page, 'GET', '/v1/admin/vault', undefined, { csrf: false })).json.vaultId;
  assert.match(command, new RegExp(`^signet enroll --server ${server.url} --vault ${vault} --enrollment-token \\S+$`));

  // Exactly what the page says to run, on a machine of its own.
  const home = server.home('ci-runner');
  const args = command.split(/\s+/).slice(1);
  const enrolled = await signet(home, [...args, '--name', 'runner-1']);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const got = await signet(home, ['get', secretId]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout.trimEnd(), value);
  assert.deepEqual(page.problems, []);
});

test('pending machines say how they asked; a tokenless one is approved only by typing its fingerprint', async () => {
  const vault = (await pageFetch(page, 'GET', '/v1/admin/vault', undefined, { csrf: false })).json.vaultId;
  const on = await pageFetch(page, 'POST', '/v1/admin/vault/settings', { tokenlessEnrollment: true });
  assert.equal(on.status, 200, on.text);
  const ask = async (name) => {
    const home = server.home(name);
    const r = await signet(home, ['--json', 'enroll', '--server', server.url, '--vault', vault, '--request', '--name', name]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).fingerprint;
  };
  const fpA = await ask('asker-a');
  await ask('asker-b');

  await go(page, 'Machines');
  const waiting = page.locator('section', { has: page.getByRole('heading', { name: 'Waiting for approval' }) });
  const rowA = waiting.locator('tr', { hasText: 'asker-a' });
  await rowA.getByText('Tokenless request').waitFor();
  // "All machines" counts the waiting ones too, never "No machines yet".
  const all = page.locator('section', { has: page.getByRole('heading', { name: 'All machines' }) });
  assert.equal(await all.getByText('No machines yet').count(), 0);
  await all.locator('tr', { hasText: 'asker-b' }).waitFor();
  assert.match(await page.locator('#machine-count').textContent(), /2 waiting for approval/);

  // Approving starts from an empty fingerprint field; a wrong one is refused next to the field.
  await rowA.getByRole('button', { name: 'Approve asker-a…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Approve asker-a' });
  const fp = dialog.getByLabel('Fingerprint the machine printed');
  assert.equal(await fp.inputValue(), '', 'the fingerprint is not filled in for the person');
  await fp.fill('SHA256:not-the-right-one');
  await dialog.getByRole('button', { name: 'Approve asker-a' }).click();
  assert.equal(await fp.getAttribute('aria-invalid'), 'true');
  await fp.fill(fpA);
  await dialog.getByRole('button', { name: 'Approve asker-a' }).click();
  await page.locator('#status', { hasText: 'asker-a approved' }).waitFor();

  // Deny asks first, naming the machine; cancelling changes nothing.
  const rowB = page.locator('section', { has: page.getByRole('heading', { name: 'Waiting for approval' }) }).locator('tr', { hasText: 'asker-b' });
  await rowB.getByRole('button', { name: 'Deny asker-b' }).click();
  const confirm = page.getByRole('dialog');
  await confirm.getByText('Deny asker-b?').waitFor();
  await confirm.getByRole('button', { name: 'Cancel' }).click();
  await rowB.waitFor();
  await rowB.getByRole('button', { name: 'Deny asker-b' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Deny asker-b' }).click();
  await page.locator('#status', { hasText: 'asker-b denied' }).waitFor();
  assert.deepEqual(page.problems, []);
});

test('removing the allowlist range that covers every active machine warns by name and wants the range typed', async () => {
  const add = async (cidr, label) => {
    const r = await pageFetch(page, 'POST', '/v1/admin/ip-allowlist', { cidr, label });
    assert.equal(r.status, 200, r.text);
  };
  // Every machine here registered from loopback; the other range covers none of them.
  await add('127.0.0.0/8', 'this host');
  await add('10.0.0.0/8', 'office');
  const on = await pageFetch(page, 'POST', '/v1/admin/ip-allowlist/enable', {});
  assert.equal(on.status, 200, on.text);
  const machines = (await pageFetch(page, 'GET', '/v1/admin/machines', undefined, { csrf: false })).json.machines
    .filter((m) => m.status === 'approved' && m.enabled);
  assert.ok(machines.length >= 2, 'runner-1 and asker-a are active');

  await go(page, 'IP allowlist');
  // The office range cuts off nobody: a plain named confirmation.
  await page.getByRole('button', { name: 'Remove 10.0.0.0/8' }).click();
  let dialog = page.getByRole('dialog');
  await dialog.getByRole('button', { name: 'Remove 10.0.0.0/8' }).waitFor();
  assert.equal(await dialog.getByText('cuts off').count(), 0);
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  await page.getByRole('button', { name: 'Remove 127.0.0.0/8' }).click();
  dialog = page.getByRole('dialog', { name: 'Remove 127.0.0.0/8' });
  const warning = dialog.locator('#cutoff-warning');
  await warning.waitFor();
  const text = await warning.textContent();
  assert.match(text, new RegExp(`cuts off ${machines.length} active machines: every one`));
  for (const m of machines) assert.ok(text.includes(m.name), `names ${m.name}`);
  const go_ = dialog.getByRole('button', { name: 'Remove 127.0.0.0/8' });
  assert.ok(await go_.isDisabled(), 'disabled until the range is typed');
  await dialog.getByLabel('Type 127.0.0.0/8 to confirm').fill('127.0.0.0/');
  assert.ok(await go_.isDisabled());
  // Cancelled: this browser is on loopback too.
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  const still = (await pageFetch(page, 'GET', '/v1/admin/ip-allowlist', undefined, { csrf: false })).json.entries.map((e) => e.cidr);
  assert.ok(still.includes('127.0.0.0/8'));
  await pageFetch(page, 'POST', '/v1/admin/ip-allowlist/disable', {});
  assert.deepEqual(page.problems, []);
});

test('the Users list is searched and filtered by role, keeps its search across live updates, and copies ids', async () => {
  const make = (username) => pageFetch(page, 'POST', '/v1/admin/users',
    { username, email: `${username}@example.com`, password: 'violet-harbour-lantern-93', role: 'viewer' });
  const erin = await make('erin');
  assert.equal(erin.status, 200, erin.text);
  await go(page, 'Users');
  const people = page.locator('#users-list');
  await people.locator('tr', { hasText: 'erin@example.com' }).waitFor();
  // Every person's id has its own named copy button.
  await people.getByRole('button', { name: `Copy id of ${owner.username}` }).waitFor();
  await people.getByRole('button', { name: 'Copy id of erin' }).waitFor();

  await people.getByLabel('Filter by role').selectOption('owner');
  await people.locator('tr', { hasText: 'erin@example.com' }).waitFor({ state: 'detached' });
  await people.locator('tr', { hasText: owner.username }).first().waitFor();
  await people.getByLabel('Filter by role').selectOption('');

  await people.getByLabel('Search people').fill('erin');
  await people.locator('tbody tr', { hasText: owner.username }).waitFor({ state: 'detached' });
  assert.equal(await people.locator('tbody tr').count(), 1);
  // Someone added elsewhere appears without a reload, and the search still applies.
  assert.equal((await make('erin2')).status, 200);
  await people.locator('tr', { hasText: 'erin2@example.com' }).waitFor({ timeout: 20000 });
  assert.equal(await people.getByLabel('Search people').inputValue(), 'erin');
  assert.equal(await people.locator('tbody tr', { hasText: owner.username }).count(), 0);
  assert.equal(await people.locator('tbody tr').count(), 2);

  // The audit log's actor ids and targets have copy buttons too.
  await go(page, 'Audit log');
  const records = page.locator('#audit-records');
  const first = records.locator('tbody tr', { hasText: 'user_create' }).first();
  await first.waitFor();
  await first.getByRole('button', { name: /^Copy actor id of record \d+$/ }).waitFor();
  await first.getByRole('button', { name: /^Copy target of record \d+$/ }).waitFor();
  assert.deepEqual(page.problems, []);
});

/** What a copy button should put on the clipboard: the id or command its cell shows. */
function copyTargets(page) {
  return page.locator('main button.copy').evaluateAll((buttons) => buttons.map((b, i) => {
    const cell = b.closest('.id-cell, .copyrow');
    const code = cell && cell.querySelector('code');
    return { i, name: b.getAttribute('aria-label'), expected: code ? code.textContent : (cell && cell.getAttribute('title')) || '' };
  }));
}

/** Ids (UUIDs and prefixed ids) shown in `main` without a copy button beside them. */
function idsWithoutCopy(page) {
  return page.locator('main code').evaluateAll((codes) => codes
    .filter((c) => /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z]{2,6}_[A-Za-z0-9]{10,})$/.test(c.textContent.trim()))
    .filter((c) => !c.closest('.id-cell, .copyrow'))
    .map((c) => c.textContent.trim()));
}

test('every copy button on every page puts exactly its id or command on the clipboard, and no id is shown without one', async () => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
  // Something on every list: a project and secret, an enrollment token, a pending machine.
  const { projectId } = await projectWithSecret('copyable', 'COPY_ME', 'v1');
  const token = await pageFetch(page, 'POST', '/v1/admin/tokens/enrollment', { name: 'copy-token', projectIds: [projectId] });
  assert.equal(token.status, 200, token.text);
  const boot = await pageFetch(page, 'POST', '/v1/admin/tokens/bootstrap', {});
  assert.equal(boot.status, 200, boot.text);
  const enrolled = await signet(server.home('copy-machine'), ['enroll', '--server', server.url, '--token', boot.json.token, '--name', 'copy-1']);
  assert.equal(enrolled.code, 0, enrolled.stderr);

  const links = await page.getByRole('navigation').getByRole('link').allTextContents();
  const missing = [];
  const wrong = [];
  let checked = 0;
  for (const name of links) {
    await go(page, name);
    await page.waitForFunction(() => document.getElementById('main').getAttribute('aria-busy') !== 'true');
    missing.push(...(await idsWithoutCopy(page)).map((id) => `${name}: ${id}`));
    const targets = await copyTargets(page);
    // The first few of each page: every kind of cell, without copying hundreds of audit ids.
    for (const t of targets.slice(0, 6)) {
      await page.evaluate(() => navigator.clipboard.writeText(''));
      await page.locator('main button.copy').nth(t.i).click();
      const got = await page.evaluate(() => navigator.clipboard.readText());
      checked += 1;
      if (!t.expected || got !== t.expected) wrong.push(`${name}: "${t.name}" copied "${got}", the page shows "${t.expected}"`);
    }
  }
  assert.deepEqual(wrong, [], 'each copy button copies what its cell shows');
  assert.deepEqual(missing, [], 'every id shown has a copy button');
  assert.ok(checked >= 10, `copy buttons were tried (${checked})`);
  assert.deepEqual(page.problems, []);
});
