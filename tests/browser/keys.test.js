// The Root keys page (issue 16, the pages of the key rotation feature): the owner sees each
// generation and how many project keys it wraps; "Rotate the root key", after typing `rotate`
// and a real TOTP step-up, runs the rotation to its end with progress; `signet key status`
// agrees; a machine still reads its secret; the emptied generation is retired after typing its
// name. An admin has no nav entry, and the page's address says why.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, enrollMachine, signet, go, createUser, freshTotp, ok } from './harness.js';
import { operatorLogin } from './operator.js';

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

const ROTATE = '/v1/admin/keys/root/rotate';

test('the owner rotates the root key from the page, with a step-up and progress, and retires the old generation', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);

  // Three projects (their keys under generation 0), and a machine reading a secret in one of them.
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  await ok(page, 'POST', '/v1/admin/projects', { name: 'billing' });
  await ok(page, 'POST', '/v1/admin/projects', { name: 'search' });
  const secret = await ok(page, 'POST', '/v1/admin/secrets', { projectId: project.id, name: 'DATABASE_URL', value: 'postgres://db/pay' });
  const { home, machine } = await enrollMachine(page, server, { projectId: project.id, secretIds: [secret.id] });
  const before = await ok(page, 'GET', '/v1/admin/keys/root');
  assert.equal(before.generations.length, 1, JSON.stringify(before));
  const keys = before.generations[0].projectKeys;
  assert.ok(keys >= 1, `project keys are under generation 0: ${keys}`);

  await go(page, 'Root keys');
  const gens = page.getByRole('table', { name: 'Root key generations' });
  const row0 = gens.locator('tr', { hasText: 'the root key file' });
  assert.match(await row0.textContent(), new RegExp(`current.*${keys} project keys?`));
  assert.equal(await page.getByRole('button', { name: /^Retire generation/ }).count(), 0, 'the current generation cannot be retired');

  // The sign-in just now counts as a step-up for five minutes: the server's 403 for a stale one
  // is played once here, the step-up and every call after it are the real server. Each rotate
  // call is recorded, so the page is seen to go on until the server says there is no more.
  let played = false;
  const calls = [];
  await page.route(`**${ROTATE}`, async (route) => {
    if (!played) {
      played = true;
      return route.fulfill({ status: 403, contentType: 'application/json', body: JSON.stringify({ error: 'step-up required', code: 'step_up_required' }) });
    }
    const response = await route.fetch();
    calls.push({ sent: route.request().postDataJSON(), got: await response.json() });
    return route.fulfill({ response });
  });
  await page.getByRole('button', { name: 'Rotate the root key' }).click();
  const confirm = page.getByRole('dialog', { name: 'Rotate the root key' });
  const go1 = confirm.getByRole('button', { name: 'Rotate the root key' });
  assert.equal(await go1.isDisabled(), true, 'nothing happens until the word is typed');
  await confirm.getByLabel('Type rotate to confirm').fill('rotate');
  await go1.click();
  const stepUp = page.getByRole('dialog', { name: 'Confirm it is you' });
  await stepUp.waitFor();
  await stepUp.getByLabel('Authenticator code').fill(await freshTotp(owner.totpSecret));
  await stepUp.getByRole('button', { name: 'Confirm' }).click();
  await page.locator('#status', { hasText: 'Root key rotated' }).waitFor();
  await page.unroute(`**${ROTATE}`);
  assert.match(await page.locator('#status').textContent(), new RegExp(`generation 1 is current, ${keys} project keys? re-wrapped`));
  assert.ok(calls.length >= 1, 'the real server rotated');
  assert.equal(calls[0].sent.start, true, 'the first call starts a generation');
  assert.ok(calls.slice(1).every((c) => c.sent.start === false), 'later calls only continue');
  assert.equal(calls[calls.length - 1].got.more, false, 'the page stopped when the server said done');

  // The page, the CLI and the machine agree.
  const row1 = gens.locator('tr', { hasText: /^1/ });
  await row1.waitFor();
  assert.match(await row1.textContent(), new RegExp(`current.*${keys} project keys?`));
  assert.match(await row0.textContent(), /retirable.*0 project keys/);
  const cli = await operatorLogin(server, owner, 'cli-home');
  const status = await signet(cli, ['--json', 'key', 'status']);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout).generations.map((g) => [g.generation, g.current, g.projectKeys]),
    [[0, false, 0], [1, true, keys]]);
  const read = await signet(home, ['get', secret.id]);
  assert.equal(read.code, 0, read.stderr);
  assert.equal(read.stdout.trimEnd(), 'postgres://db/pay');

  // Generation 0 wraps nothing now: retired after typing its name.
  await page.getByRole('button', { name: 'Retire generation 0' }).click();
  const retire = page.getByRole('dialog', { name: 'Retire generation 0' });
  await retire.getByLabel('Type generation 0 to confirm').fill('generation 0');
  await retire.getByRole('button', { name: 'Retire generation 0' }).click();
  await page.locator('#status', { hasText: 'Generation 0 retired' }).waitFor();
  assert.equal(await row0.count(), 0, 'generation 0 is gone from the table');
  const after = await signet(cli, ['--json', 'key', 'status']);
  assert.deepEqual(JSON.parse(after.stdout).generations.map((g) => g.generation), [1]);
  assert.equal((await signet(home, ['get', secret.id])).code, 0, 'the machine still reads');

  // An admin is not offered the page; its address says who manages root keys.
  const adam = await createUser(page, { username: 'adam', email: 'adam@example.com', password: 'adam-password-long', role: 'admin' });
  const admin = await newPage(browser);
  await login(admin, server, adam);
  assert.equal(await admin.getByRole('navigation').getByRole('link', { name: 'Root keys', exact: true }).count(), 0);
  await admin.goto(`${server.url}/#/keys`);
  await admin.getByText('Root keys are managed by owners.').waitFor();
  assert.deepEqual(admin.problems, []);
  assert.deepEqual(page.problems, []);
});
