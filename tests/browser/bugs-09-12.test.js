// Issue 16, bugs 9 to 12 (field-name patterns, the loading state, the allowlist cut-off warning, pending machines):
// one test each, named "bug N: …", whose first assertion is the bug as a person met it (where
// the page goes, what it says, what the server then holds), not the presence of a new element.
// Each runs alone too: scripts/dashboard-bugs.sh runs it against the dashboard before the fixes
// (it must fail) and after (it must pass); docs/dashboard-bugs.md has the table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageFetch, signet, go, sleep } from './harness.js';
import {
  setUp, server, browser, tag, eventually, signedInAs, project, openPage, ownerPage,
} from './bugs.js';

setUp();

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

test('bugs 9 and 10 on every page: each one marked busy while a slow server answers, every pattern compiles with the v flag, no console error', async () => {
  const page = ownerPage;
  const consoleErrors = [];
  const listen = (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`); };
  page.on('console', listen);
  try {
    await openPage(page, 'account', 'Account');
    const links = await page.getByRole('navigation').locator('a[href^="#/"]').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent.trim()]));
    assert.ok(links.length >= 10, `the owner sees every page: ${links.map((l) => l[1])}`);
    let before = 'Account';
    // Account last, so every visit leaves the page before.
    links.push(...links.splice(links.findIndex(([h]) => h === '#/account'), 1));
    for (const [href, name] of links) {
      // A slow server: every admin call waits a moment before it goes out.
      let held = 0;
      const slow = async (route) => { held += 1; await sleep(1500); await route.continue().catch(() => {}); };
      await page.route('**/v1/admin/**', slow);
      await page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
      await sleep(400);
      if (held) {
        assert.equal(await page.locator('main').getAttribute('aria-busy'), 'true', `${href}: the page says it is loading`);
        assert.equal(await page.locator('main h1').textContent(), before, `${href}: the old page stays while the next loads`);
        assert.notEqual(await page.locator('nav [aria-current="page"]').textContent().catch(() => ''), name, `${href}: the navigation waits for the page`);
      }
      await page.unroute('**/v1/admin/**', slow);
      await page.locator('main h1').filter({ hasNotText: new RegExp(`^${before}$`) }).waitFor({ timeout: 15_000 });
      await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
      before = await page.locator('main h1').textContent();
      assert.equal(await page.locator('nav [aria-current="page"]').textContent(), name, `${href}: the navigation follows the page`);
      const bad = await page.evaluate(() => [...document.querySelectorAll('[pattern]')].flatMap((el) => {
        try { new RegExp(`^(?:${el.getAttribute('pattern')})$`, 'v'); return []; } catch { return [`#${el.id} ${el.getAttribute('pattern')}`]; }
      }));
      assert.deepEqual(bad, [], `${href}: patterns Chromium cannot compile`);
    }
  } finally {
    page.off('console', listen);
  }
  assert.deepEqual(consoleErrors, [], 'no console error on any page');
  assert.deepEqual(ownerPage.problems, []);
});
