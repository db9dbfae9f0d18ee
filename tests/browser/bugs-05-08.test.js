// Issue 16, bugs 5 to 8 (the enrollment command, a scoped developer's pages, errors at their field, a used setup link):
// one test each, named "bug N: …", whose first assertion is the bug as a person met it (where
// the page goes, what it says, what the server then holds), not the presence of a new element.
// Each runs alone too: scripts/dashboard-bugs.sh runs it against the dashboard before the fixes
// (it must fail) and after (it must pass); docs/dashboard-bugs.md has the table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, pageFetch, signet, go, sleep, startServer } from './harness.js';
import {
  setUp, server, browser, ownerPage, tag, eventually, asOwner, signedInAs, project, mainText, statusText, openPage,
} from './bugs.js';

setUp();

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

/**
 * Asserts that `field` carries a server error in plain words: aria-invalid, and a description
 * (aria-describedby) matching `words`, with none of the server's code words (`conflict: x_y`).
 */
async function saidAtField(page, field, words, what) {
  const invalid = await eventually(() => field.getAttribute('aria-invalid'));
  assert.equal(invalid, 'true', `${what}: the error is on the field; the page said: "${await statusText(page)}" / "${await mainText(page)}"`);
  const described = (await field.getAttribute('aria-describedby')) || '';
  const said = (await Promise.all(described.split(/\s+/).filter(Boolean).map((d) => page.locator(`[id="${d}"]`).textContent()))).join(' ');
  assert.match(said, words, `${what}: the field says why`);
  assert.doesNotMatch(said, /\b(conflict|malformed_request|invalid_name|access_denied)\b|: [a-z]+_[a-z_]+$/, `${what}: no code words in "${said}"`);
}

test('bug 7: the server errors of the Users, IP allowlist, Tokens and Account forms sit next to their field, in plain words', async () => {
  const { page, who } = await signedInAs('admin');
  await go(page, 'Users');
  await page.locator('#cu-username').fill(who.username);
  await page.locator('#cu-email').fill(`${tag('other')}@example.com`);
  await page.locator('#cu-password').fill('violet-harbour-lantern-93');
  await page.getByRole('button', { name: 'Create user' }).click();
  await saidAtField(page, page.locator('#cu-username'), /username is taken/, 'create a user with a taken username');

  await page.locator('#invite-email').fill(`${who.username}@example.com`);
  await page.getByRole('button', { name: 'Create invitation' }).click();
  await saidAtField(page, page.locator('#invite-email'), /email already exists/, 'invite an existing email');

  await go(page, 'IP allowlist');
  await page.getByLabel('CIDR').fill('10.1.2.0/99');
  await page.getByRole('button', { name: 'Add range' }).click();
  await saidAtField(page, page.getByLabel('CIDR'), /\S/, 'a malformed range');
  const cidr = '198.18.7.0/24';
  await asOwner('POST', '/v1/admin/ip-allowlist', { cidr, label: 'twice' });
  await page.getByLabel('CIDR').fill(cidr);
  await page.getByRole('button', { name: 'Add range' }).click();
  await saidAtField(page, page.getByLabel('CIDR'), /already in the list/, 'a range listed already');

  const pname = tag('tok-field');
  await project(page, pname);
  await go(page, 'Tokens');
  await page.getByLabel(pname, { exact: true }).check();
  await page.locator('#tok-name').fill(tag('bad-cidr'));
  await page.locator('#tok-cidr').fill('not-a-range');
  await page.getByRole('button', { name: 'Create enrollment token' }).click();
  await saidAtField(page, page.locator('#tok-cidr'), /\S/, 'an enrollment token with a malformed source range');

  await go(page, 'Account');
  await page.getByLabel('Current password').fill(who.password);
  await page.getByLabel('New password', { exact: true }).fill('password1234');
  await page.getByLabel('Repeat new password').fill('password1234');
  await page.getByRole('button', { name: 'Change password' }).click();
  await saidAtField(page, page.getByLabel('New password', { exact: true }), /\S/, 'a common new password');
  assert.deepEqual(page.problems, []);
});

test('bug 8: a tampered setup link says so before the form, and spends nothing of the real one', async () => {
  const fresh = await startServer();
  try {
    const real = fresh.setupUrl.replace(/^https?:\/\/[^/]+/, fresh.url);
    const last = real.slice(-1);
    const tampered = real.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    const page = await newPage(browser);
    await page.goto(tampered);
    await page.getByRole('heading', { name: 'Set up Signet', level: 1 }).waitFor();
    await eventually(async () => (await page.getByLabel('Username').count()) > 0 || (await page.locator('#setup-closed').count()) > 0);
    assert.equal(await page.getByLabel('Username').count(), 0, 'no setup form for a tampered link');
    assert.match(await page.locator('#setup-closed').innerText(), /already used or has expired/);
    await page.goto('about:blank');
    await page.goto(real);
    await page.getByLabel('Username').waitFor();
    assert.equal(await page.locator('#setup-closed').count(), 0, 'the real link still opens the form');
    assert.deepEqual(page.problems, []);
    await page.close();
  } finally {
    await fresh.stop();
  }
});

test('bug 6: a viewer and an unscoped developer are offered, on every page, no button their role cannot use, and no page asks for what it may not read', async () => {
  // Something on every page: a project with a secret, a deleted one in the trash, an
  // enrollment token, an allowlist range and a machine waiting for approval.
  const { id } = await project(ownerPage, tag('walked'), { name: 'WALKED_KEY', value: 'v1' });
  const doomed = await pageFetch(ownerPage, 'POST', '/v1/admin/secrets', { projectId: id, name: 'TRASHED_KEY', value: 'v1' });
  assert.equal(doomed.status, 200, doomed.text);
  assert.equal((await pageFetch(ownerPage, 'POST', `/v1/admin/secrets/${doomed.json.id}/delete`, {})).status, 200);
  assert.equal((await asOwner('POST', '/v1/admin/tokens/enrollment', { name: tag('walk-token'), projectIds: [id] })).status, 200);
  await asOwner('POST', '/v1/admin/ip-allowlist', { cidr: '198.51.100.0/24', label: 'walk' });
  const boot = await asOwner('POST', '/v1/admin/tokens/bootstrap', {});
  assert.equal(boot.status, 200, boot.text);
  const enrolled = await signet(server.home(tag('walk-m')), ['--json', 'enroll', '--server', server.url, '--token', boot.json.token, '--name', tag('walk-m')]);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const machineId = JSON.parse(enrolled.stdout).machineId;

  // What each role may not do, by the names of the buttons that would do it.
  const admin = /^(Approve|Deny|Disable|Enable|Attach|Detach|Purge|Remove|Turn (on|off)|Issue|Create (enrollment|project|canary|policy)|Edit|Delete (project|policy)|Unfreeze|Save role|Role of|Suspend|Activate)\b/;
  const writer = /^(Create secret|Update|Rotation of|Delete|Import|Restore|Roll back|Create leased|Add connection|Create link|Renew|Revoke|Destroy)\b/;
  const forbidden = { viewer: [admin, writer], developer: [admin, /^Revoke (?!lease)/] };
  for (const role of ['viewer', 'developer']) {
    const { page, consoleErrors } = await signedInAs(role);
    const refused = [];
    page.on('response', (r) => { if (r.status() === 403) refused.push(`${r.request().method()} ${new URL(r.url()).pathname}`); });
    const offered = [];
    const links = await page.getByRole('navigation').getByRole('link').allTextContents();
    for (const name of links.filter((l) => l !== 'Account')) {
      await go(page, name);
      await page.waitForFunction(() => document.getElementById('main').getAttribute('aria-busy') !== 'true');
      await sleep(400);
      const text = await mainText(page);
      if (/access denied|could not load|not allowed|does not allow/i.test(text)) offered.push(`${name}: says "${text.split('\n').find((l) => /denied|could not|allow/i.test(l))}"`);
      for (const b of await page.locator('main button:visible').allTextContents()) {
        if (forbidden[role].some((re) => re.test(b.trim()))) offered.push(`${name}: "${b.trim()}"`);
      }
    }
    await page.goto(`${server.url}/#/machines/${machineId}`);
    await page.getByRole('link', { name: '← All machines' }).waitFor();
    await page.waitForFunction(() => document.getElementById('main').getAttribute('aria-busy') !== 'true');
    for (const b of await page.locator('main button:visible').allTextContents()) {
      if (forbidden[role].some((re) => re.test(b.trim()))) offered.push(`machine page: "${b.trim()}"`);
    }
    await openPage(page, `secrets/${id}`, 'Secrets');
    await page.locator('tr', { hasText: 'WALKED_KEY' }).getByRole('button', { name: 'Versions of WALKED_KEY' }).click();
    await page.getByRole('dialog').getByRole('table').waitFor();
    for (const b of await page.getByRole('dialog').getByRole('button').allTextContents()) {
      if (forbidden[role].some((re) => re.test(b.trim()))) offered.push(`versions of a secret: "${b.trim()}"`);
    }
    assert.deepEqual(offered, [], `${role}: nothing offered that the role cannot use`);
    assert.deepEqual(refused, [], `${role}: no page asks the server for what the role may not read`);
    assert.deepEqual(consoleErrors.filter((e) => /403|Forbidden/.test(e)), [], `${role}: no refused request in the console`);
    assert.deepEqual(page.problems, []);
  }
});
