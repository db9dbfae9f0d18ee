// Issue 11 §5: a canary secret. Created from the dashboard, read by a real machine (`signet get`,
// which answers with its value), after which the project shows frozen and an ordinary secret's
// read in that project is refused (423 project_frozen); an admin unfreezes it from the banner,
// confirming with a TOTP code, and reads work again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, enrollMachine, signet, freshTotp, ok } from './harness.js';

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

test('a canary read freezes its project until an admin unfreezes it with a second factor', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);

  // A project with an ordinary secret and a machine allowed to read it.
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  const plain = await ok(page, 'POST', '/v1/admin/secrets', { projectId: project.id, name: 'DATABASE_URL', value: 'postgres://db/pay' });
  const { home, machine } = await enrollMachine(page, server, { projectId: project.id, secretIds: [plain.id] });

  // The canary, from the dashboard's form; its row carries the badge and offers no update.
  await page.goto(`${server.url}/#/secrets/${project.id}`);
  const form = page.getByRole('region', { name: 'Create a canary' });
  await form.getByLabel('Canary name').fill('AWS_ROOT_KEY');
  await form.getByLabel('Looks like').selectOption('alphanumeric');
  await form.getByRole('button', { name: 'Create canary' }).click();
  const row = page.locator('tr', { hasText: 'AWS_ROOT_KEY' });
  await row.locator('.badge', { hasText: 'canary' }).waitFor();
  assert.equal(await row.getByRole('button', { name: 'Update' }).count(), 0, 'a canary offers no update');
  const { secrets } = await ok(page, 'POST', '/v1/admin/secrets/query', { projectId: project.id });
  const canary = secrets.find((s) => s.name === 'AWS_ROOT_KEY');
  assert.equal(canary.canary, true);
  await ok(page, 'POST', `/v1/admin/machines/${machine}/grant`, { secretIds: [canary.id] });

  // The machine reads the canary: 200 with a generated value.
  const read = (id) => signet(home, ['get', id]);
  assert.equal((await read(plain.id)).code, 0);
  const got = await read(canary.id);
  assert.equal(got.code, 0, got.stderr);
  assert.match(got.stdout.trimEnd(), /^[A-Za-z0-9]{32}$/);

  // The project shows frozen, and the ordinary secret's next read is refused.
  const refused = await read(plain.id);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /frozen/);
  await page.reload();
  const banner = page.locator('#frozen-banner');
  await banner.waitFor();
  assert.match(await banner.textContent(), /payments is frozen/);

  // Unfreeze from the banner: the sign-in just now counts as a step-up for five minutes, so the
  // server's 403 for a stale one is played once here; the step-up and the retry are the real
  // server (core's tests show the server itself refuses a stale step-up).
  let played = false;
  const unfreeze = `**/v1/admin/projects/${project.id}/unfreeze`;
  await page.route(unfreeze, async (route) => {
    if (played) return route.continue();
    played = true;
    return route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'step-up required', code: 'step_up_required' }) });
  });
  await banner.getByRole('button', { name: 'Unfreeze' }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: /^Unfreeze / }).click();
  const dialog = page.getByRole('dialog', { name: 'Confirm it is you' });
  await dialog.waitFor();
  await dialog.getByLabel('Authenticator code').fill(await freshTotp(owner.totpSecret));
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('#status', { hasText: 'unfrozen' }).waitFor();
  await page.unroute(unfreeze);
  assert.equal(await page.locator('#frozen-banner').count(), 0, 'the banner is gone');

  // Reads work again.
  const again = await read(plain.id);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trimEnd(), 'postgres://db/pay');
  const { records } = await ok(page, 'POST', '/v1/admin/audit/query', { action: 'canary_triggered' });
  assert.equal(records.length, 1);
  assert.equal(records[0].actorId, machine);
  assert.deepEqual(page.problems, []);
});
