// Secrets in the dashboard as a new user meets them (issue 16): names with spaces and empty
// values refused next to their field (never rewritten) by the dashboard and by the server itself,
// field names that Chromium itself checks, a version history naming its authors and the fields
// whose value changed (recorded by the server), a .env file imported from a real
// upload with its names previewed and its values never shown, and type-the-name confirmation
// for deleting a project and purging it from the trash.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launch, newPage, setupOwner, login, pageFetch, go, signet, ok } from './harness.js';

let server;
let browser;
let page;
let owner;
let projectId;
// Every console error, not only CSP ones: an invalid `pattern` is reported there.
const consoleErrors = [];

before(async () => {
  server = await startServer();
  browser = await launch();
  page = await newPage(browser);
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  owner = await setupOwner(page, server);
  await login(page, server, owner);
  const p = await pageFetch(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  assert.equal(p.status, 200, p.text);
  projectId = p.json.id;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function secretNames() {
  const r = await pageFetch(page, 'POST', '/v1/admin/secrets/query', { projectId });
  return r.json.secrets.map((s) => s.name);
}

async function openSecrets() {
  // Through the overview, so the page renders afresh even when it was the last one shown.
  await page.goto(`${server.url}/#/`);
  await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
  await page.goto(`${server.url}/#/secrets/${projectId}`);
  await page.getByRole('heading', { name: 'Secrets', level: 1, exact: true }).waitFor();
}

test('a name with spaces and an empty value are refused next to their field; nothing is created', async () => {
  await openSecrets();
  const name = page.locator('#secret-name');
  await name.fill('db creds');
  await page.getByLabel('Value').fill('s3cret-value');
  await page.getByRole('button', { name: 'Create secret' }).click();
  assert.equal(await name.getAttribute('aria-invalid'), 'true');
  const errId = (await name.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  assert.match(await page.locator(`[id="${errId}"]`).textContent(), /No spaces.*DB_CREDS/);
  assert.deepEqual(await secretNames(), [], 'nothing was created, under any name');

  await name.fill('DB_CREDS');
  await page.getByLabel('Value').fill('');
  await page.getByRole('button', { name: 'Create secret' }).click();
  assert.equal(await page.getByLabel('Value').getAttribute('aria-invalid'), 'true');
  assert.equal(await name.getAttribute('aria-invalid'), null, 'the name is fine now');
  assert.deepEqual(await secretNames(), []);

  await page.getByLabel('Value').fill('s3cret-value');
  await page.getByRole('button', { name: 'Create secret' }).click();
  await page.locator('tr', { hasText: 'DB_CREDS' }).waitFor();
  assert.deepEqual(await secretNames(), ['DB_CREDS']);
  // Where someone would look for a reveal button, the page says why there is none.
  await page.locator('#no-reveal', { hasText: 'No value is ever shown here' }).waitFor();
  assert.equal(await page.getByText('s3cret-value').count(), 0);
  assert.deepEqual(page.problems, []);
});

test('Chromium checks field names itself: an invalid one is flagged, with no console error', async () => {
  await openSecrets();
  await page.locator('#secret-name').fill('STRIPE');
  await page.locator('#secret-type').selectOption('structured');
  const fname = page.getByLabel('Field name');
  await fname.fill('secret key');
  // The browser compiled the pattern (with the `v` flag) and applied it.
  assert.equal(await fname.evaluate((el) => el.validity.patternMismatch), true, 'a name with a space fails the pattern');
  await fname.fill('secret_key-1.x');
  assert.equal(await fname.evaluate((el) => el.validity.patternMismatch), false, 'a good name passes');
  await fname.fill('secret key');
  await page.getByLabel('Field value').fill('sk_1');
  await page.getByRole('button', { name: 'Create secret' }).click();
  assert.equal(await fname.getAttribute('aria-invalid'), 'true');
  assert.deepEqual(await secretNames(), ['DB_CREDS']);
  assert.deepEqual(consoleErrors.filter((e) => /pattern/i.test(e)), [], 'no invalid-pattern console error');

  // "Add field" keeps its own width.
  const add = page.getByRole('button', { name: 'Add field' });
  const [addBox, formBox] = await Promise.all([add.boundingBox(), page.locator('form.stack').filter({ has: add }).boundingBox()]);
  assert.ok(addBox.width < formBox.width / 2, `Add field is ${addBox.width}px in a ${formBox.width}px form`);
  assert.deepEqual(page.problems, []);
});

test('version history names its author and the fields that changed, never a value', async () => {
  const made = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId, name: 'STRIPE', fields: { publishable_key: 'pk_v1' } });
  assert.equal(made.status, 200, made.text);
  const up = await pageFetch(page, 'POST', `/v1/admin/secrets/${made.json.id}/update`,
    { baseVersion: 1, keepFields: ['publishable_key'], removeFields: [], fields: { secret_key: 'sk_v2' } });
  assert.equal(up.status, 200, up.text);
  await openSecrets();
  await page.locator('tr', { hasText: 'STRIPE' }).getByRole('button', { name: 'Versions of STRIPE' }).click();
  const dialog = page.getByRole('dialog', { name: 'Versions of STRIPE' });
  const v2 = dialog.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '2', exact: true }) });
  await v2.getByText('Added secret_key').waitFor();
  await v2.getByText(owner.username, { exact: true }).waitFor();
  assert.equal(await dialog.getByText(/pk_v1|sk_v2/).count(), 0, 'no value in the history');
  await dialog.getByRole('button', { name: 'Close' }).click();

  // The server compares the values where it holds them and records only the names: a field
  // given its own value again is not "changed".
  const v3 = await pageFetch(page, 'POST', `/v1/admin/secrets/${made.json.id}/update`,
    { set: { secret_key: 'sk_v3', publishable_key: 'pk_v1', port: '443' } });
  assert.equal(v3.status, 200, v3.text);
  const listed = await pageFetch(page, 'GET', `/v1/admin/secrets/${made.json.id}/versions`);
  assert.deepEqual(listed.json.versions.map((v) => v.changedFields ?? null), [null, [], ['secret_key']]);
  // A leaked value would be a JSON string: a bare 443 may be part of a timestamp (createdAt).
  assert.doesNotMatch(listed.text, /sk_v3|pk_v1|"443"/);
  await openSecrets();
  await page.locator('tr', { hasText: 'STRIPE' }).getByRole('button', { name: 'Versions of STRIPE' }).click();
  const again = page.getByRole('dialog', { name: 'Versions of STRIPE' });
  const row3 = again.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '3', exact: true }) });
  await row3.getByText('Changed secret_key; added port', { exact: true }).waitFor();
  assert.equal(await again.getByText(/sk_v3|pk_v1|443/).count(), 0);
  await again.getByRole('button', { name: 'Close' }).click();
  assert.deepEqual(page.problems, []);
});

test('the server refuses a name with spaces and an empty value itself; the dashboard shows its words at the field', async () => {
  // The server's own rule, whatever a client checks: a stable code, nothing rewritten or saved.
  // A space inside a name stays allowed over the API (SikkerKey's clients read `db creds`);
  // one at either end is refused, never trimmed.
  const spaced = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId, name: 'db creds ', value: 'x' });
  assert.equal(spaced.status, 400, spaced.text);
  assert.equal(spaced.json.code, 'invalid_name');
  const empty = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId, name: 'EMPTY_ONE', value: '' });
  assert.equal(empty.status, 400, empty.text);
  assert.equal(empty.json.code, 'empty_value');
  const emptyField = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId, name: 'EMPTY_TWO', fields: { user: 'u', pass: '' } });
  assert.equal(emptyField.json.code, 'empty_value', emptyField.text);
  assert.deepEqual((await secretNames()).sort(), ['DB_CREDS', 'STRIPE'], 'nothing was created');

  // The canary form sends the name as typed; the server's refusal lands next to the field.
  await openSecrets();
  const canary = page.locator('#canary-name');
  await canary.fill(' aws root key');
  await page.getByRole('button', { name: 'Create canary' }).click();
  await page.locator('#canary-name[aria-invalid="true"]').waitFor();
  const errId = (await canary.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  assert.match(await page.locator(`[id="${errId}"]`).textContent(), /no leading or trailing space/i);
  assert.ok(!(await secretNames()).some((n) => /aws/i.test(n)), 'no canary under any name');

  // Replacing a field with nothing: the server names the field, and the dialog marks it.
  await page.locator('tr', { hasText: 'STRIPE' }).getByRole('button', { name: 'Update STRIPE' }).click();
  const dialog = page.getByRole('dialog', { name: 'Update STRIPE' });
  const row = dialog.locator('fieldset', { has: page.locator('legend', { hasText: /^port$/ }) });
  await row.getByLabel('Change').selectOption('replace');
  await dialog.getByRole('button', { name: 'Save new version' }).click();
  const value = row.getByLabel('Field value');
  await row.locator('[aria-invalid="true"]').waitFor();
  const valueErr = (await value.getAttribute('aria-describedby')).split(' ').find((id) => id.endsWith('-error'));
  assert.match(await page.locator(`[id="${valueErr}"]`).textContent(), /port.*empty/i);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  const stripe = (await pageFetch(page, 'POST', '/v1/admin/secrets/query', { projectId })).json.secrets.find((x) => x.name === 'STRIPE');
  const versions = await pageFetch(page, 'GET', `/v1/admin/secrets/${stripe.id}/versions`);
  assert.equal(versions.json.versions.length, 3, 'nothing was saved');
  assert.deepEqual(page.problems, []);
});

test('a .env file is imported from a real upload: names previewed, values never shown back', async () => {
  const file = join(server.root, 'app.env');
  writeFileSync(file, [
    '# the app',
    'export API_URL=https://api.example.test',
    'SESSION_KEY="multi-value-91ab"',
    "QUOTED='single quoted 44'",
    'DB_CREDS=already-there',
    'EMPTY=',
    'bad name=x',
    '',
  ].join('\n'));
  await openSecrets();
  await page.locator('#env-file').setInputFiles(file);
  const preview = page.locator('#env-preview');
  await preview.locator('tr', { hasText: 'API_URL' }).getByText('will be created').waitFor();
  await preview.locator('tr', { hasText: 'DB_CREDS' }).getByText('exists already').waitFor();
  await preview.locator('tr', { hasText: 'EMPTY' }).getByText('empty value').waitFor();
  assert.equal(await preview.getByText(/example\.test|multi-value|single quoted/).count(), 0, 'the preview shows names only');
  await page.getByRole('button', { name: 'Import 3 secrets into payments' }).click();
  await page.locator('#status', { hasText: 'Imported 3 secrets' }).waitFor();
  assert.deepEqual((await secretNames()).sort(), ['API_URL', 'DB_CREDS', 'QUOTED', 'SESSION_KEY', 'STRIPE']);
  assert.equal(await page.getByText(/example\.test|multi-value|single quoted/).count(), 0);
  assert.deepEqual(page.problems, []);
});

test('deleting a project and purging it take its name typed on a button that names it', async () => {
  const p = await pageFetch(page, 'POST', '/v1/admin/projects', { name: 'scratch' });
  assert.equal(p.status, 200, p.text);
  await go(page, 'Projects');
  await page.getByRole('button', { name: 'Delete project scratch' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete project scratch' });
  const confirm = dialog.getByRole('button', { name: 'Delete project scratch' });
  assert.ok(await confirm.isDisabled());
  await dialog.getByLabel('Type scratch to confirm').fill('scratch');
  await confirm.click();
  await page.locator('#status', { hasText: 'scratch moved to the trash' }).waitFor();

  await go(page, 'Trash');
  await page.getByRole('button', { name: 'Purge project scratch' }).click();
  const purge = page.getByRole('dialog', { name: 'Purge project scratch' });
  const purgeButton = purge.getByRole('button', { name: 'Purge project scratch' });
  await purge.getByLabel('Type scratch to confirm').fill('scratc');
  assert.ok(await purgeButton.isDisabled());
  await purge.getByLabel('Type scratch to confirm').fill('scratch');
  await purgeButton.click();
  await page.locator('#status', { hasText: 'Purged the project scratch' }).waitFor();
  assert.deepEqual(page.problems, []);
});

test('a .env import reads what shells read (CRLF, quotes, export, comments, the last of a repeated name) and never puts a value in the page', async () => {
  const imports = await ok(page, 'POST', '/v1/admin/projects', { name: 'imports' });
  const file = join(server.root, 'windows.env');
  // Written on Windows: CRLF line ends throughout, a name given twice (the later line is the
  // override), an unclosed quote that must not swallow the lines after it.
  writeFileSync(file, [
    '# exported from the old vault',
    'export API_TOKEN=tok-crlf-1a2b',
    'DB_PASSWORD="pw with spaces and \\"quotes\\""',
    "LITERAL='single $not_expanded'",
    'INLINE=bare-value-77 # a comment after it',
    'REPEATED=first-value-old',
    'EMPTY=',
    'EMPTY_QUOTED=""',
    'BAD!NAME=value-of-a-bad-name',
    'BROKEN="broken-value-33',
    'AFTER_BROKEN=after-broken-55',
    'REPEATED=second-value-new',
    '',
  ].join('\r\n'));
  await page.goto(`${server.url}/#/secrets/${imports.id}`);
  await page.getByRole('heading', { name: 'Secrets', level: 1, exact: true }).waitFor();
  await page.locator('#env-file').setInputFiles(file);
  const preview = page.locator('#env-preview');
  const state = async (name, line) => (await preview.locator('tr', { has: page.getByRole('rowheader', { name, exact: true }) })
    .filter({ has: page.getByRole('cell', { name: String(line), exact: true }) }).textContent());
  await preview.locator('tr', { hasText: 'API_TOKEN' }).waitFor();
  for (const name of ['API_TOKEN', 'DB_PASSWORD', 'LITERAL', 'INLINE', 'AFTER_BROKEN']) {
    assert.match(await preview.locator('tr', { has: page.getByRole('rowheader', { name, exact: true }) }).textContent(), /will be created/, name);
  }
  assert.match(await state('REPEATED', 6), /repeated on line 12: the last one counts/);
  assert.match(await state('REPEATED', 12), /will be created/);
  assert.match(await state('EMPTY', 7), /empty value/);
  assert.match(await state('EMPTY_QUOTED', 8), /empty value/);
  assert.match(await preview.textContent(), /Lines not read: 10 \(a double quote is never closed\)/);
  assert.match(await state('BAD!NAME', 9), /letters, digits/, 'a bad name is marked, not imported');
  const VALUES = /tok-crlf|pw with spaces|not_expanded|bare-value|first-value|second-value|after-broken|value-of-a-bad-name|broken-value/;
  assert.doesNotMatch(await page.content(), VALUES, 'the preview holds names only');
  await page.getByRole('button', { name: 'Import 6 secrets into imports' }).click();
  await page.locator('#status', { hasText: 'Imported 6 secrets into imports' }).waitFor();
  assert.doesNotMatch(await page.content(), VALUES, 'nothing of the file is left in the page');
  assert.equal(await page.locator('#env-file').inputValue(), '', 'the file is let go');

  // What went in is what a shell would have exported: a machine granted the lot reads it.
  const secrets = (await ok(page, 'POST', '/v1/admin/secrets/query', { projectId: imports.id })).secrets;
  assert.deepEqual(secrets.map((x) => x.name).sort(), ['AFTER_BROKEN', 'API_TOKEN', 'DB_PASSWORD', 'INLINE', 'LITERAL', 'REPEATED']);
  const vault = (await ok(page, 'GET', '/v1/admin/vault')).vaultId;
  const token = await ok(page, 'POST', '/v1/admin/tokens/enrollment', {
    name: 'import check', projectIds: [imports.id], secretIds: secrets.map((x) => x.id), maxUses: 1, ttlSecs: 600, machineTtlSecs: 600,
  });
  const home = server.home('import-reader');
  const enrolled = await signet(home, ['enroll', '--server', server.url, '--vault', vault, '--enrollment-token', token.token, '--name', 'import-reader']);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const expect = {
    API_TOKEN: 'tok-crlf-1a2b', DB_PASSWORD: 'pw with spaces and "quotes"', LITERAL: 'single $not_expanded', INLINE: 'bare-value-77',
    REPEATED: 'second-value-new', AFTER_BROKEN: 'after-broken-55',
  };
  for (const x of secrets) {
    const got = await signet(home, ['get', x.id]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(JSON.stringify(got.stdout.replace(/\n$/, '')), JSON.stringify(expect[x.name]), `${x.name}: no \\r, no quotes, no comment`);
  }
  assert.deepEqual(page.problems, []);
});

test('a .env file over 1 MiB is refused next to the file field; one just under it is previewed and imported', async () => {
  const big = await ok(page, 'POST', '/v1/admin/projects', { name: 'big-import' });
  await page.goto(`${server.url}/#/secrets/${big.id}`);
  // The old project's page stays (busy) until this one's data is there: wait for this one, or
  // the file goes to an input that is about to be replaced.
  await page.getByRole('heading', { name: 'Secrets in big-import' }).waitFor();
  const over = join(server.root, 'over.env');
  writeFileSync(over, `HUGE=${'h'.repeat(1024 * 1024)}\n`);
  await page.locator('#env-file').setInputFiles(over);
  await page.locator('#env-file[aria-invalid="true"]').waitFor();
  assert.match(await page.locator('#env-file').getAttribute('aria-describedby'), /env-file-error/);
  assert.match(await page.locator('#env-file-error').textContent(), /over 1 MiB/);
  assert.equal(await page.locator('#env-preview tr').count(), 0, 'nothing is previewed');

  // One megabyte: many ordinary lines and one long value (a bundled certificate chain, say).
  const lines = [];
  for (let i = 0; lines.join('\n').length < 10_000; i++) lines.push(`KEY_${String(i).padStart(4, '0')}=value-${i}-${'v'.repeat(40)}`);
  lines.push(`LONG_VALUE=${'L'.repeat(1_000_000 - lines.join('\n').length - 20)}`);
  const mb = join(server.root, 'one-mb.env');
  writeFileSync(mb, `${lines.join('\n')}\n`);
  await page.locator('#env-file').setInputFiles(mb);
  await page.locator('#env-preview tr', { hasText: 'LONG_VALUE' }).waitFor();
  assert.equal(await page.locator('#env-file').getAttribute('aria-invalid'), null, 'the refusal of the bigger file is cleared');
  const count = lines.length;
  await page.getByRole('button', { name: `Import ${count} secrets into big-import` }).click();
  await page.locator('#status', { hasText: `Imported ${count} secrets into big-import` }).waitFor({ timeout: 60_000 });
  assert.equal((await ok(page, 'POST', '/v1/admin/secrets/query', { projectId: big.id })).secrets.length, count);
  assert.doesNotMatch(await page.content(), /LLLLLLLLLL|value-1-vvvv/, 'no value in the page');
  assert.deepEqual(page.problems, []);
});
