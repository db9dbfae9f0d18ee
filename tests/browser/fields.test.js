// Issue 9, finding 11: updating one field of a structured secret from the dashboard must keep
// the fields the person did not retype. A machine then reads all three fields: the one changed,
// and the two untouched ones intact. The dialog shows what will change, by field name only.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, enrollMachine, signet, ok } from './harness.js';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('updating one field of a 3-field secret keeps the other two', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);

  // A project, a 3-field secret and a machine allowed to read it, through the admin API.
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  const secret = await ok(page, 'POST', '/v1/admin/secrets', {
    projectId: project.id, name: 'db', fields: { host: 'db.internal', user: 'app', pass: 'old-pass' },
  });
  const { home, machine } = await enrollMachine(page, server, { projectId: project.id, secretIds: [secret.id] });

  // The dashboard's update: it starts from the three current field names, every one kept.
  await page.goto(`${server.url}/#/secrets/${project.id}`);
  const row = page.locator('tr', { hasText: 'db' });
  await row.getByText('host, pass, user').waitFor();
  await row.getByRole('button', { name: 'Update' }).click();
  const dialog = page.getByRole('dialog', { name: 'Update db' });
  await dialog.waitFor();
  for (const name of ['host', 'pass', 'user']) {
    const group = dialog.getByRole('group', { name, exact: true });
    assert.equal(await group.getByLabel('Change').inputValue(), 'keep', `${name} starts as kept`);
  }
  const summary = dialog.locator('#update-summary');
  assert.match(await summary.textContent(), /Kept as they are: host, pass, user/);

  // Only the password is retyped; the summary names it, and never shows a value.
  await dialog.getByRole('group', { name: 'pass', exact: true }).getByLabel('Field value').fill('new-pass');
  await summary.getByText('Replaced: pass').waitFor();
  assert.match(await summary.textContent(), /Kept as they are: host, user/);
  const shown = [await dialog.textContent(), ...await dialog.locator('input').evaluateAll((els) => els.map((e) => e.value))];
  for (const v of ['db.internal', 'old-pass', 'app']) {
    assert.ok(!shown.some((t) => t === v || t.includes(` ${v} `)), `the current value ${v} is not shown`);
  }
  await dialog.getByRole('button', { name: 'Save new version' }).click();
  await page.locator('#status', { hasText: 'version 2' }).waitFor();

  // The machine reads all three: the new password, and the two untouched fields intact.
  const read = async (f) => {
    const r = await signet(home, ['get', secret.id, f]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trimEnd();
  };
  assert.equal(await read('pass'), 'new-pass');
  assert.equal(await read('host'), 'db.internal');
  assert.equal(await read('user'), 'app');
  assert.deepEqual(page.problems, []);
});
