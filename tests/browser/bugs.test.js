// Issue 16's sixteen bugs, one test each, named "bug N: …", so that each can be run alone
// (`node --test --test-name-pattern='^bug 7:' bugs.test.js`) against the dashboard before the
// fixes and after: scripts/dashboard-bugs.sh does that and docs/dashboard-bugs.md has its table.
// Each test checks what a person met (where the page goes, what it says, what the server then
// holds), not whether some new element exists, and its first assertion is the bug itself, so
// its failure on the old dashboard names the bug. Every test signs in a person of its own
// (fresh second factor, own audit trail) on one shared server; bug 14 needs a fresh vault and
// starts its own.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launch, newPage, setupOwner, login, pageFetch, signet, go, sleep, freshTotp,
} from './harness.js';
import { totp, secretFromUri } from './totp.js';

let server;
let browser;
let ownerPage;
let owner;
let seq = 0;
// Unique names per process, so tests can run in any order or alone on the shared server.
const run = Date.now().toString(36).slice(-4);
const tag = (what) => `${what}-${run}${++seq}`;

before(async () => {
  server = await startServer();
  browser = await launch();
  ownerPage = await newPage(browser);
  owner = await setupOwner(ownerPage, server);
  await login(ownerPage, server, owner);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Polls `fn` until it answers truthy or `ms` pass; resolves with its last answer. */
async function eventually(fn, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last || Date.now() > end) return last;
    await sleep(100);
  }
}

/** An admin call from the owner's page, with a fresh step-up when the server asks for one. */
async function asOwner(method, path, body) {
  let r = await pageFetch(ownerPage, method, path, body);
  if (r.status === 403 && r.json?.code === 'step_up_required') {
    const s = await pageFetch(ownerPage, 'POST', '/v1/auth/step-up', { totp: await freshTotp(owner.totpSecret) });
    assert.equal(s.status, 200, `owner step-up: ${s.text}`);
    r = await pageFetch(ownerPage, method, path, body);
  }
  return r;
}

/**
 * A new person with `role` (and `projects`, a project scope), signed in on a page of their own:
 * `{ page, who, consoleErrors }`. `consoleErrors` collects every console error of that page.
 */
async function signedInAs(role, { projects, width } = {}) {
  const username = tag(role).replace(/-/g, '_');
  const r = await asOwner('POST', '/v1/admin/users', {
    username, email: `${username}@example.com`, password: `${username} long password`, role, ...(projects ? { projects } : {}),
  });
  assert.equal(r.status, 200, `create ${role}: ${r.text}`);
  const who = { username, password: `${username} long password`, id: r.json.user.id, totpSecret: secretFromUri(r.json.otpauthUri) };
  const page = await newPage(browser, width ? { width } : {});
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  await login(page, server, who);
  return { page, who, consoleErrors };
}

/** A project (and optionally a standard secret) made over the admin API from `page`. */
async function project(page, name, secret) {
  const p = await pageFetch(page, 'POST', '/v1/admin/projects', { name });
  assert.equal(p.status, 200, p.text);
  if (!secret) return { id: p.json.id };
  const s = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId: p.json.id, ...secret });
  assert.equal(s.status, 200, s.text);
  return { id: p.json.id, secretId: s.json.id };
}

async function secretNames(page, projectId) {
  const r = await pageFetch(page, 'POST', '/v1/admin/secrets/query', { projectId });
  assert.equal(r.status, 200, r.text);
  return r.json.secrets.map((s) => s.name);
}

async function openPage(page, hash, heading) {
  await page.goto(`${server.url}/#/`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.goto(`${server.url}/#/${hash}`);
  await page.getByRole('heading', { name: heading, level: 1, exact: true }).waitFor();
}

const mainText = (page) => page.locator('main').innerText();
const statusText = (page) => page.locator('#status').innerText().catch(() => '');

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

test('bug 5: an enrollment token comes with the whole command, and pre-granted secrets a real machine reads', async () => {
  const { page } = await signedInAs('admin');
  const pname = tag('ci');
  const { secretId } = await project(page, pname, { name: 'CI_DEPLOY_KEY', value: 'pre-granted-7f3c2a' });
  const vault = (await pageFetch(page, 'GET', '/v1/admin/vault', undefined, { csrf: false })).json.vaultId;
  await go(page, 'Tokens');
  await page.locator('#tok-name').fill(tag('runners'));
  await page.getByLabel(pname, { exact: true }).check();
  await page.getByRole('button', { name: 'Create enrollment token' }).click();
  await page.locator('#enroll-result code').first().waitFor();
  const shown = (await page.locator('#enroll-result').innerText()).replace(/\s+/g, ' ');
  assert.ok(shown.includes(`--server ${server.url}`) && shown.includes(`--vault ${vault}`),
    `the command names the server and the vault: "${shown}"`);

  await page.locator('#tok-name').fill(tag('granted'));
  await page.getByLabel(`CI_DEPLOY_KEY (${pname})`).check({ timeout: 5000 });
  await page.getByRole('button', { name: 'Create enrollment token' }).click();
  await page.locator('#enroll-result', { hasText: 'read the 1 secret' }).waitFor();
  const command = (await page.locator('#enroll-result code').first().textContent()).trim();
  const home = server.home(tag('runner'));
  const enrolled = await signet(home, [...command.split(/\s+/).slice(1), '--name', tag('runner')]);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const got = await signet(home, ['get', secretId]);
  assert.equal(got.code, 0, `the machine reads the pre-granted secret: ${got.stderr}`);
  assert.equal(got.stdout.trimEnd(), 'pre-granted-7f3c2a');
  assert.deepEqual(page.problems, []);
});

test('bug 6: a project-scoped developer is offered only pages and buttons their role can use', async () => {
  const { id } = await project(ownerPage, tag('scoped'));
  const cidr = '198.51.100.0/24';
  await asOwner('POST', '/v1/admin/ip-allowlist', { cidr, label: 'docs' });
  const { page } = await signedInAs('developer', { projects: [id] });
  const links = await page.getByRole('navigation').getByRole('link').allTextContents();
  const refused = [];
  for (const name of links) {
    await go(page, name);
    await page.waitForFunction(() => document.getElementById('main').getAttribute('aria-busy') !== 'true');
    await sleep(300);
    const text = await mainText(page);
    if (/access denied|could not load|not allowed|does not allow/i.test(text)) refused.push(`${name}: ${text.split('\n').find((l) => /denied|could not|allow/i.test(l))}`);
  }
  assert.deepEqual(refused, [], `no page in the navigation is refused; refused: ${refused.join('; ')}`);
  await go(page, 'IP allowlist');
  const buttons = await page.locator('main button').allTextContents();
  const offered = buttons.filter((b) => /\b(remove|turn on|turn off|add)\b/i.test(b));
  assert.deepEqual(offered, [], `no allowlist button a developer cannot use; offered: ${offered.join(', ')}`);
  assert.deepEqual(page.problems, []);
});

test('bug 7: a server error sits next to its field, in plain words', async () => {
  const { page } = await signedInAs('admin');
  const name = tag('payments');
  await project(page, name);
  await go(page, 'Projects');
  const field = page.getByLabel('New project name');
  await field.fill(name);
  const answered = page.waitForResponse((r) => r.url().endsWith('/v1/admin/projects') && r.request().method() === 'POST');
  await field.press('Enter');
  await answered;
  const invalid = await eventually(() => field.getAttribute('aria-invalid'));
  assert.equal(invalid, 'true', `the error is on the field; the page said only: "${await statusText(page)}"`);
  const described = (await field.getAttribute('aria-describedby')) || '';
  const said = (await Promise.all(described.split(/\s+/).filter(Boolean).map((d) => page.locator(`[id="${d}"]`).textContent()))).join(' ');
  assert.match(said, /already exists/, 'the field says why');
  assert.equal(await page.getByText('conflict: project_name').count(), 0, 'no code words');
  assert.deepEqual(page.problems, []);
});

test('bug 8: a used setup link says so instead of showing the form', async () => {
  const page = await newPage(browser);
  await page.goto(server.setupUrl.replace(/^https?:\/\/[^/]+/, server.url));
  await page.getByRole('heading', { name: 'Set up Signet', level: 1 }).waitFor();
  await eventually(async () => (await page.getByLabel('Username').count()) > 0 || /already used/.test(await mainText(page)));
  assert.equal(await page.getByLabel('Username').count(), 0, 'no setup form for a used link');
  assert.match(await mainText(page), /already used or has expired/);
  assert.deepEqual(page.problems, []);
});

test('bug 9: Chromium checks a structured secret\'s field names itself, with no console error', async () => {
  const { page, consoleErrors } = await signedInAs('admin');
  const { id } = await project(page, tag('fields'));
  await openPage(page, `secrets/${id}`, 'Secrets');
  await page.locator('#secret-type').selectOption('structured');
  const fname = page.getByLabel('Field name');
  await fname.fill('secret key');
  assert.equal(await fname.evaluate((el) => el.validity.patternMismatch), true, 'a field name with a space fails the browser\'s own check');
  assert.deepEqual(consoleErrors.filter((e) => /pattern/i.test(e)), [], 'no invalid-pattern console error');
  await fname.fill('secret_key-1.x');
  assert.equal(await fname.evaluate((el) => el.validity.patternMismatch), false, 'a good name passes');
  assert.deepEqual(page.problems, []);
});

test('bug 10: the old page stays, marked busy, while the next one loads; the navigation moves with the page', async () => {
  const { page } = await signedInAs('admin');
  await openPage(page, '', 'Overview');
  let release;
  const held = new Promise((ok) => { release = ok; });
  await page.route('**/v1/admin/account', async (route) => { await held; await route.continue(); });
  try {
    await page.getByRole('navigation').getByRole('link', { name: 'Account', exact: true }).click();
    await sleep(700);
    assert.equal(await page.locator('nav [aria-current="page"]').textContent(), 'Overview', 'the navigation waits for the page');
    assert.equal(await page.locator('main h1').textContent(), 'Overview', 'the old page stays while loading');
    assert.equal(await page.locator('main').getAttribute('aria-busy'), 'true', 'the page says it is loading');
  } finally {
    release();
  }
  await page.getByRole('heading', { name: 'Account', level: 1 }).waitFor();
  await page.unroute('**/v1/admin/account');

  // The audit page while its records are on their way: marked busy, not an empty card.
  let releaseAudit;
  const heldAudit = new Promise((ok) => { releaseAudit = ok; });
  await page.route('**/v1/admin/audit/query', async (route) => { await heldAudit; await route.continue(); });
  try {
    await page.getByRole('navigation').getByRole('link', { name: 'Audit log', exact: true }).click();
    await sleep(1000);
    assert.equal(await page.locator('main').getAttribute('aria-busy'), 'true', 'the audit page is marked busy while its records load');
  } finally {
    releaseAudit();
  }
  await page.locator('#audit-records tbody tr').first().waitFor();
  await page.unroute('**/v1/admin/audit/query');
  assert.deepEqual(page.problems, []);
});

test('bug 11: removing the allowlist range that covers every active machine names them and wants the range typed', async () => {
  const { page } = await signedInAs('admin');
  const vault = (await pageFetch(page, 'GET', '/v1/admin/vault', undefined, { csrf: false })).json.vaultId;
  const { id } = await project(page, tag('fleet'));
  const t = await pageFetch(page, 'POST', '/v1/admin/tokens/enrollment', {
    name: tag('fleet'), projectIds: [id], secretIds: [], maxUses: 2, ttlSecs: 3600, machineTtlSecs: 3600,
  });
  assert.equal(t.status, 200, t.text);
  for (const n of ['a', 'b']) {
    const r = await signet(server.home(tag(`fleet-${n}`)), ['enroll', '--server', server.url, '--vault', vault, '--enrollment-token', t.json.token, '--name', tag(`fleet-${n}`)]);
    assert.equal(r.code, 0, r.stderr);
  }
  const add = async (cidr) => {
    const r = await pageFetch(page, 'POST', '/v1/admin/ip-allowlist', { cidr, label: 'bug 11' });
    assert.ok(r.status === 200 || r.json?.code === 'conflict', r.text);
  };
  await add('127.0.0.0/8');
  await add('10.0.0.0/8');
  const on = await pageFetch(page, 'POST', '/v1/admin/ip-allowlist/enable', {});
  assert.equal(on.status, 200, on.text);
  try {
    const active = (await pageFetch(page, 'GET', '/v1/admin/machines', undefined, { csrf: false })).json.machines
      .filter((m) => m.status === 'approved' && m.enabled);
    assert.ok(active.length >= 2);
    await go(page, 'IP allowlist');
    await page.locator('main tr', { hasText: '127.0.0.0/8' }).getByRole('button', { name: /^Remove/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const text = await dialog.innerText();
    const unnamed = active.map((m) => m.name).filter((n) => !text.includes(n));
    assert.deepEqual(unnamed, [], `the confirmation names every machine it cuts off; it says: "${text.replace(/\s+/g, ' ')}"`);
    const confirm = dialog.getByRole('button', { name: 'Remove 127.0.0.0/8' });
    assert.ok(await confirm.isDisabled(), 'disabled until the range is typed');
    await dialog.getByLabel('Type 127.0.0.0/8 to confirm').fill('127.0.0.0/8');
    assert.ok(await confirm.isEnabled());
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  } finally {
    await pageFetch(page, 'POST', '/v1/admin/ip-allowlist/disable', {});
  }
  assert.deepEqual(page.problems, []);
});

test('bug 12: pending machines say how they asked, the fingerprint is typed, deny asks first, "All machines" counts them', async () => {
  const { page } = await signedInAs('admin');
  const vault = (await pageFetch(page, 'GET', '/v1/admin/vault', undefined, { csrf: false })).json.vaultId;
  const on = await pageFetch(page, 'POST', '/v1/admin/vault/settings', { tokenlessEnrollment: true });
  assert.equal(on.status, 200, on.text);
  const a = tag('asker-a');
  const b = tag('asker-b');
  for (const name of [a, b]) {
    const r = await signet(server.home(name), ['enroll', '--server', server.url, '--vault', vault, '--request', '--name', name]);
    assert.equal(r.code, 0, r.stderr);
  }
  await go(page, 'Machines');
  const waiting = page.locator('section', { has: page.getByRole('heading', { name: 'Waiting for approval' }) });
  const rowA = waiting.locator('tr', { hasText: a });
  await rowA.waitFor();
  assert.match(await rowA.innerText(), /tokenless|without a token/i, 'the pending row says it asked without a token');
  const all = page.locator('section', { has: page.getByRole('heading', { name: 'All machines' }) });
  assert.equal(await all.getByText('No machines yet').count(), 0, '"All machines" does not say "No machines yet"');
  assert.ok(await all.locator('tr', { hasText: b }).count() > 0, '"All machines" lists the waiting ones');

  await rowA.getByRole('button', { name: /^Approve/ }).click();
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  const boxes = dialog.getByRole('textbox');
  assert.ok(await boxes.count() > 0, `approving asks for the fingerprint; the dialog says: "${(await dialog.innerText()).replace(/\s+/g, ' ')}"`);
  assert.equal(await boxes.first().inputValue(), '', 'the fingerprint is not filled in for the person');
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  const rowB = waiting.locator('tr', { hasText: b });
  await rowB.getByRole('button', { name: /^Deny/ }).click();
  assert.ok(await eventually(() => page.getByRole('dialog').count(), 3000) > 0, 'deny asks first');
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  const still = (await pageFetch(page, 'GET', '/v1/admin/machines', undefined, { csrf: false })).json.machines.find((m) => m.name === b);
  assert.equal(still.status, 'pending', 'cancelling changes nothing');
  assert.deepEqual(page.problems, []);
});

test('bug 13: step-up tells a wrong code from a used one, offers no passkey when none is registered, and is not a failed sign-in', async () => {
  const { page, who } = await signedInAs('developer');
  // Signing in counts as a step-up: the server's 403 for a stale one is played once.
  let played = false;
  await page.route('**/v1/admin/account/password', (route) => {
    if (played) return route.continue();
    played = true;
    return route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'step-up required', code: 'step_up_required' }) });
  });
  await openPage(page, 'account', 'Account');
  await page.getByLabel('Current password').fill(who.password);
  await page.getByLabel('New password', { exact: true }).fill('another long passphrase 42');
  await page.getByLabel('Repeat new password').fill('another long passphrase 42');
  await page.getByRole('button', { name: 'Change password' }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.waitFor();
  const right = totp(who.totpSecret, Date.now());
  const wrong = String((Number(right) + 500000) % 1000000).padStart(6, '0');
  await dialog.getByLabel('Authenticator code').fill(wrong);
  const answered = page.waitForResponse((r) => r.url().endsWith('/v1/auth/step-up'));
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await answered;
  const said = await eventually(async () => {
    const t = await dialog.innerText();
    return /wrong|not accepted|wait/i.test(t) ? t : '';
  });
  assert.doesNotMatch(said, /wait for the next/i, `a wrong code is not told to wait: "${said.replace(/\s+/g, ' ')}"`);
  assert.match(said, /wrong code/i);
  assert.equal(await dialog.getByRole('button', { name: 'Use a passkey' }).count(), 0, 'no passkey registered, none offered');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await page.unroute('**/v1/admin/account/password');
  const r = await asOwner('POST', '/v1/admin/audit/query', { limit: 500, action: 'user_login', result: 'denied' });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.records.filter((x) => x.target === who.id || x.actorId === who.id || String(x.detail).includes(who.username)), [],
    'the failed step-up is not a failed sign-in');
  assert.deepEqual(page.problems, []);
});

test('bug 14: opening a fresh vault records no failure; the overview names an account under attack and its lockout', async () => {
  const fresh = await startServer();
  try {
    const page = await newPage(browser);
    await page.goto(`${fresh.url}/`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const first = await setupOwner(page, fresh);
    await login(page, fresh, first);
    const records = (await pageFetch(page, 'POST', '/v1/admin/audit/query', { limit: 500 })).json.records;
    const refused = records.filter((x) => x.result !== 'ok').map((x) => `${x.action} ${x.result} ${x.detail ?? ''}`.trim());
    assert.deepEqual(refused, [], `opening the dashboard is no failed authentication; recorded: ${refused.join('; ')}`);

    const made = await pageFetch(page, 'POST', '/v1/admin/users', { username: 'bob', email: 'bob@example.com', password: 'bob-password-long', role: 'developer' });
    assert.equal(made.status, 200, made.text);
    const stranger = await newPage(browser);
    await stranger.goto(`${fresh.url}/#/login`);
    for (let i = 0; i < 5; i++) {
      const r = await pageFetch(stranger, 'POST', '/v1/auth/session', { login: 'bob', password: `wrong password ${i}`, totp: '000000' }, { csrf: false });
      assert.equal(r.status, 401, r.text);
    }
    await stranger.context().close();
    await page.goto(`${fresh.url}/#/projects`);
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await page.goto(`${fresh.url}/#/`);
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    const alerts = await eventually(() => page.getByRole('alert').filter({ hasText: 'bob' }).count());
    assert.ok(alerts > 0, `an alert names the account bob under attack: none does\n${await mainText(page)}`);
    assert.ok(await page.getByText('sign-in as bob').count() > 0, 'the recent activity names the account');
    assert.deepEqual(page.problems, []);
  } finally {
    await fresh.stop();
  }
});

test('bug 15: a name with spaces and an empty value are refused, never rewritten; "Add field" keeps its width; ids do not wrap', async () => {
  const { page } = await signedInAs('admin');
  const { id } = await project(page, tag('names'));
  await openPage(page, `secrets/${id}`, 'Secrets');
  await page.locator('#secret-name').fill('db creds');
  await page.getByLabel('Value').fill('s3cret-value');
  await page.getByRole('button', { name: 'Create secret' }).click();
  await eventually(async () => (await secretNames(page, id)).length > 0, 3000);
  assert.deepEqual(await secretNames(page, id), [], `nothing was created, under any name; created: ${await secretNames(page, id)}`);
  assert.equal(await page.locator('#secret-name').getAttribute('aria-invalid'), 'true', 'the name is refused on its field');

  await page.locator('#secret-name').fill('EMPTY_VALUE');
  await page.getByLabel('Value').fill('');
  await page.getByRole('button', { name: 'Create secret' }).click();
  await eventually(async () => (await secretNames(page, id)).length > 0, 3000);
  assert.deepEqual(await secretNames(page, id), [], `an empty value is refused; created: ${await secretNames(page, id)}`);

  await page.locator('#secret-type').selectOption('structured');
  const add = page.getByRole('button', { name: 'Add field' });
  const [addBox, formBox] = await Promise.all([add.boundingBox(), page.locator('form').filter({ has: add }).boundingBox()]);
  assert.ok(addBox.width < formBox.width / 2, `"Add field" is ${addBox.width}px wide in a ${formBox.width}px form`);

  // Ids are one token: at phone width, each sits on one line.
  const made = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId: id, name: 'DATABASE_URL', value: 'postgres://x' });
  assert.equal(made.status, 200, made.text);
  await page.setViewportSize({ width: 375, height: 800 });
  await openPage(page, `secrets/${id}`, 'Secrets');
  const code = page.locator('main code', { hasText: made.json.id }).first();
  await code.waitFor();
  const lines = await code.evaluate((el) => el.getClientRects().length);
  assert.equal(lines, 1, `the id ${made.json.id} sits on one line, not ${lines}`);
  assert.deepEqual(page.problems, []);
});

test('bug 16: action columns have headers, focus returns after a dialog is saved, errors mark their field', async () => {
  const { page } = await signedInAs('admin');
  await asOwner('POST', '/v1/admin/ip-allowlist', { cidr: '192.0.2.0/24', label: 'docs' });
  const other = tag('carol').replace(/-/g, '_');
  const made = await asOwner('POST', '/v1/admin/users', { username: other, email: `${other}@example.com`, password: 'carol-password-long', role: 'viewer' });
  assert.equal(made.status, 200, made.text);
  const blank = [];
  for (const name of ['Projects', 'Machines', 'IP allowlist', 'Users', 'Account']) {
    await go(page, name);
    const n = await page.locator('main th').evaluateAll((ths) => ths.filter((th) => !th.textContent.trim()).length);
    if (n) blank.push(`${name}: ${n}`);
  }
  assert.deepEqual(blank, [], `no blank table header; blank ones on ${blank.join(', ')}`);

  await go(page, 'Users');
  await page.locator('main tr', { hasText: other }).getByRole('button', { name: /^Role/ }).click();
  const dialog = page.getByRole('dialog', { name: `Role of ${other}` });
  await dialog.getByLabel('Role').selectOption('developer');
  await dialog.getByRole('button', { name: 'Save role' }).click();
  await dialog.waitFor({ state: 'detached' });
  const focused = await eventually(async () => {
    const tag_ = await page.evaluate(() => document.activeElement?.tagName);
    return tag_ && tag_ !== 'BODY' ? tag_ : '';
  }, 3000);
  assert.notEqual(focused, '', 'after saving, focus is back on the page, not on its body');

  await go(page, 'Projects');
  const name = page.getByLabel('New project name');
  await name.fill('');
  await name.press('Enter');
  assert.equal(await eventually(() => name.getAttribute('aria-invalid'), 3000), 'true', 'an empty name is marked on its field');
  assert.deepEqual(page.problems, []);
});
