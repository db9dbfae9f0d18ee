// Issue 16, bugs 13 to 16 (step-up, a fresh vault and lockouts, secret names and values, headers and focus):
// one test each, named "bug N: …", whose first assertion is the bug as a person met it (where
// the page goes, what it says, what the server then holds), not the presence of a new element.
// Each runs alone too: scripts/dashboard-bugs.sh runs it against the dashboard before the fixes
// (it must fail) and after (it must pass); docs/dashboard-bugs.md has the table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, newPage, setupOwner, login, pageFetch, go, sleep } from './harness.js';
import { totp } from './totp.js';
import {
  setUp, server, browser, tag, eventually, asOwner, signedInAs, project, secretNames, openPage, mainText,
} from './bugs.js';

setUp();

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

test('bug 16: action columns have headers and errors mark their field', async () => {
  const { page } = await signedInAs('admin');
  await asOwner('POST', '/v1/admin/ip-allowlist', { cidr: '192.0.2.0/24', label: 'docs' });
  const blank = [];
  for (const name of ['Projects', 'Machines', 'IP allowlist', 'Users', 'Account']) {
    await go(page, name);
    const n = await page.locator('main th').evaluateAll((ths) => ths.filter((th) => !th.textContent.trim()).length);
    if (n) blank.push(`${name}: ${n}`);
  }
  assert.deepEqual(blank, [], `no blank table header; blank ones on ${blank.join(', ')}`);

  await go(page, 'Projects');
  const name = page.getByLabel('New project name');
  await name.fill('');
  await name.press('Enter');
  assert.equal(await eventually(() => name.getAttribute('aria-invalid'), 3000), 'true', 'an empty name is marked on its field');
  assert.deepEqual(page.problems, []);
});

// Bug 16's third symptom, found still open by the first run of these tests: `modal` in page.js
// put focus back on the opener as soon as the dialog closed, and users.js then redrew the list,
// removing that opener, so focus ended on the body. docs/dashboard-bugs.md says more.
test('bug 16, focus: after saving a dialog that redraws its list, focus stays on the page', async () => {
  const { page } = await signedInAs('admin');
  const other = tag('carol').replace(/-/g, '_');
  const made = await asOwner('POST', '/v1/admin/users', { username: other, email: `${other}@example.com`, password: 'carol-password-long', role: 'viewer' });
  assert.equal(made.status, 200, made.text);
  await go(page, 'Users');
  await page.locator('main tr', { hasText: other }).getByRole('button', { name: /^Role/ }).click();
  const dialog = page.getByRole('dialog', { name: `Role of ${other}` });
  await dialog.getByLabel('Role').selectOption('developer');
  await dialog.getByRole('button', { name: 'Save role' }).click();
  await dialog.waitFor({ state: 'detached' });
  // Once the list has been redrawn with the new role, focus must still be on the page.
  await page.locator('main tr', { hasText: other }).filter({ hasText: 'developer' }).waitFor();
  await sleep(1000);
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    return !el || el === document.body ? 'body' : `${el.tagName} ${(el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40)}`;
  });
  assert.notEqual(focused, 'body', 'after saving, focus is back on the page, not on its body');

  assert.deepEqual(page.problems, []);
});
