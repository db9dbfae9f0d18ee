// Issue 16, bugs 5 to 8 (the enrollment command, a scoped developer's pages, errors at their field, a used setup link):
// one test each, named "bug N: …", whose first assertion is the bug as a person met it (where
// the page goes, what it says, what the server then holds), not the presence of a new element.
// Each runs alone too: scripts/dashboard-bugs.sh runs it against the dashboard before the fixes
// (it must fail) and after (it must pass); docs/dashboard-bugs.md has the table.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, pageFetch, signet, go, sleep } from './harness.js';
import {
  setUp, server, browser, ownerPage, tag, eventually, asOwner, signedInAs, project, mainText, statusText,
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
