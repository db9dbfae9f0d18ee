// The Connections page (issue 16, the pages of issue 12's leased credentials): a connection to the
// real PostgreSQL added from the page (the admin password never shown back, a malformed port
// refused next to its field), tested by the server logging in (Works; a wrong database fails
// with a class, never the database's message), its id used by a leased secret from the Leases
// page, and deleted after confirming once nothing uses it. A viewer sees it with no buttons.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, go, createUser, ok } from './harness.js';

let server;
let browser;
/** The owner, set up by whichever test runs first (each may run alone). */
let owner;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const PG = new URL(process.env.SIGNET_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test');

test('a database connection added, tested and deleted from the Connections page', async () => {
  const page = await newPage(browser);
  owner ||= await setupOwner(page, server);
  await login(page, server, owner);
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });

  await go(page, 'Connections');
  await page.getByText('No connections yet.').waitFor();
  const add = page.getByRole('region', { name: 'Add a connection' });
  await add.getByLabel('Name').fill('main');
  await add.getByLabel('Host').fill(PG.hostname);
  await add.getByLabel('Port').fill('70000');
  await add.getByLabel('Database').fill(PG.pathname.slice(1));
  await add.getByLabel('Admin user').fill(decodeURIComponent(PG.username));
  await add.getByLabel('Admin password').fill('unused-with-trust');
  await add.getByLabel('TLS').selectOption('disable');
  await add.getByRole('button', { name: 'Add connection' }).click();
  await page.locator('#conn-port[aria-invalid="true"]').waitFor();
  await add.getByLabel('Port').fill(PG.port || '5432');
  await add.getByRole('button', { name: 'Add connection' }).click();

  const table = page.getByRole('table', { name: 'Database connections' });
  const row = table.locator('tr', { hasText: 'main' });
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(`${PG.hostname}:${PG.port || 5432}/${PG.pathname.slice(1)}`));
  assert.doesNotMatch(await page.locator('main').textContent(), /unused-with-trust/, 'the password is never shown back');
  const [conn] = (await ok(page, 'GET', `/v1/admin/projects/${project.id}/connections`)).connections;
  assert.equal(conn.adminPassword, undefined);
  assert.deepEqual([conn.name, conn.tlsMode], ['main', 'disable']);

  // The server logs in as the admin: it works.
  await row.getByRole('button', { name: 'Test main' }).click();
  await page.locator(`#test-${conn.id}`, { hasText: 'Works.' }).waitFor();

  // A second connection to a database that does not exist fails with a class.
  await add.getByLabel('Name').fill('broken');
  await add.getByLabel('Host').fill(PG.hostname);
  await add.getByLabel('Database').fill('no_such_database_here');
  await add.getByLabel('Admin user').fill(decodeURIComponent(PG.username));
  await add.getByLabel('TLS').selectOption('disable');
  await add.getByRole('button', { name: 'Add connection' }).click();
  await page.locator('#conn-password[aria-invalid="true"]').waitFor();
  assert.match(await page.locator('#conn-password-error').textContent(), /Fill in/);
  await add.getByLabel('Admin password').fill('wrong-but-trusted');
  await add.getByRole('button', { name: 'Add connection' }).click();
  const broken = table.locator('tr', { hasText: 'broken' });
  await broken.waitFor();
  await broken.getByRole('button', { name: 'Test broken' }).click();
  const failed = page.locator('.conn-test', { hasText: 'Failed' });
  await failed.waitFor();
  assert.doesNotMatch(await failed.textContent(), /no_such_database_here|FATAL/, 'never the database\u2019s own message');

  // A viewer sees the connections and nothing to press.
  const vera = await createUser(page, { username: 'vera', email: 'vera@example.com', password: 'vera-password-long', role: 'viewer' });
  const viewer = await newPage(browser);
  await login(viewer, server, vera);
  await go(viewer, 'Connections');
  await viewer.getByRole('table', { name: 'Database connections' }).locator('tr', { hasText: 'main' }).waitFor();
  assert.equal(await viewer.getByRole('button', { name: /^(Test|Delete connection) / }).count(), 0);
  assert.equal(await viewer.getByRole('region', { name: 'Add a connection' }).count(), 0);
  await viewer.close();

  // Deleted after confirming.
  await row.getByRole('button', { name: 'Delete connection main' }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Delete connection main' }).click();
  await page.locator('#status', { hasText: 'Connection main deleted' }).waitFor();
  assert.deepEqual((await ok(page, 'GET', `/v1/admin/projects/${project.id}/connections`)).connections.map((c) => c.name), ['broken']);
  assert.deepEqual(page.problems, []);
});

test('a connection is edited in a dialog: the stored password kept for the same server, asked for again when it moves', async () => {
  const page = await newPage(browser);
  owner ||= await setupOwner(page, server);
  await login(page, server, owner);
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'ledger' });
  const conn = await ok(page, 'POST', `/v1/admin/projects/${project.id}/connections`, {
    name: 'ledger-db', host: PG.hostname, port: Number(PG.port || 5432), database: 'no_such_database_yet',
    adminUser: decodeURIComponent(PG.username), adminPassword: 'kept-password', tlsMode: 'disable',
  });
  const path = `/v1/admin/projects/${project.id}/connections/${conn.id}`;

  await go(page, 'Connections');
  const row = page.getByRole('table', { name: 'Database connections' }).locator('tr', { hasText: 'ledger-db' });
  await row.getByRole('button', { name: 'Edit connection ledger-db' }).click();
  const dialog = page.getByRole('dialog', { name: 'Edit connection ledger-db' });
  assert.equal(await dialog.getByLabel('Database').inputValue(), 'no_such_database_yet', 'the form starts from what is stored');
  assert.equal(await dialog.getByLabel('TLS').inputValue(), 'disable');
  assert.equal(await dialog.getByLabel('Admin password').inputValue(), '', 'the password is never shown back');

  // Moving it to another host without the password is refused next to the password field.
  await dialog.getByLabel('Host').fill('elsewhere.example.test');
  await dialog.getByRole('button', { name: 'Save connection' }).click();
  await page.locator('#conn-edit-password[aria-invalid="true"]').waitFor();
  assert.match(await dialog.getByLabel('Admin password').getAttribute('aria-describedby'), /conn-edit-password-error/);
  assert.equal((await ok(page, 'GET', path)).host, PG.hostname, 'nothing was sent');

  // The same server with the right database: the stored password is kept, and Test logs in.
  await dialog.getByLabel('Host').fill(PG.hostname);
  await dialog.getByLabel('Database').fill(PG.pathname.slice(1));
  await dialog.getByRole('button', { name: 'Save connection' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.locator('#status', { hasText: 'Connection ledger-db saved' }).waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.getAttribute('aria-label') === 'Edit connection ledger-db');
  assert.equal((await ok(page, 'GET', path)).database, PG.pathname.slice(1));
  assert.match(await row.textContent(), new RegExp(`/${PG.pathname.slice(1)}`));
  await row.getByRole('button', { name: 'Test ledger-db' }).click();
  await page.locator(`#test-${conn.id}`, { hasText: 'Works.' }).waitFor();

  // A rename: the row follows.
  await row.getByRole('button', { name: 'Edit connection ledger-db' }).click();
  await dialog.getByLabel('Name').fill('ledger-main');
  await dialog.getByRole('button', { name: 'Save connection' }).click();
  await page.getByRole('table', { name: 'Database connections' }).locator('tr', { hasText: 'ledger-main' }).waitFor();
  assert.equal((await ok(page, 'GET', path)).name, 'ledger-main');
  assert.doesNotMatch(await page.content(), /kept-password/);
  assert.deepEqual(page.problems, []);
});
