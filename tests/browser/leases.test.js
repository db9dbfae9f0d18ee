// Issue 12 §1, "Leases": a leased secret created from the dashboard's form, read by a real
// machine (which mints a PostgreSQL role), is listed on the Leases page with its machine,
// secret, role, expiry and state; Renew and Revoke (each after confirming) act on it, and the
// revoked role no longer logs in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startServer, launch, newPage, setupOwner, login, enrollMachine, signet, go, ok } from './harness.js';

const PG_ADMIN = process.env.SIGNET_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const BASE = PG_ADMIN.slice(0, PG_ADMIN.lastIndexOf('/'));
const DB = `signet_browser_lease_${randomBytes(6).toString('hex')}`;

let server;
let browser;

before(async () => {
  execFileSync('psql', [PG_ADMIN, '-qc', `CREATE DATABASE ${DB}`]);
  execFileSync('psql', [`${BASE}/${DB}`, '-qc', 'CREATE TABLE t (x int); INSERT INTO t VALUES (7)']);
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  execFileSync('psql', [PG_ADMIN, '-qc', `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`]);
});

function canLogIn(creds) {
  const url = `postgres://${creds.username}:${creds.password}@${creds.host}:${creds.port}/${creds.database}`;
  try {
    execFileSync('psql', [url, '-qAtc', 'SELECT x FROM t'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

test('a lease minted by a machine is renewed and revoked from the Leases page', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);

  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  const conn = await ok(page, 'POST', `/v1/admin/projects/${project.id}/connections`, {
    name: 'main', host: '127.0.0.1', port: 5432, database: DB, adminUser: 'postgres', adminPassword: 'unused-with-trust', tlsMode: 'disable',
  });
  assert.equal(conn.adminPassword, undefined, 'the admin password is never answered');

  // The leased secret, from the form.
  await go(page, 'Leases');
  await page.getByLabel('Project').selectOption(project.id);
  await page.getByLabel('Name').fill('APP_DB');
  await page.getByLabel('Connection id').fill(conn.id);
  await page.getByLabel('Lifetime (seconds)').fill('600');
  await page.getByLabel('Hard maximum (seconds)').fill('3600');
  await page.getByLabel('Grant SQL').fill('GRANT SELECT ON t TO {{name}}');
  await page.getByRole('button', { name: 'Create leased secret' }).click();
  const created = page.locator('#status', { hasText: 'Leased secret APP_DB created' });
  await created.waitFor();
  const secretId = (await created.textContent()).match(/sk_[A-Za-z0-9]{10}/)[0];

  // A machine reads it: a role is minted and logs in.
  const { home, machine } = await enrollMachine(page, server, { projectId: project.id, secretIds: [secretId] });
  const read = await signet(home, ['get', secretId]);
  assert.equal(read.code, 0, read.stderr);
  const creds = JSON.parse(read.stdout);
  assert.ok(canLogIn(creds), 'the minted role logs in');

  // Listed with its machine, secret, role, expiry and state.
  await page.reload();
  await page.getByRole('heading', { name: 'Leases', level: 1, exact: true }).waitFor();
  const row = page.locator('tr', { hasText: creds.username });
  await row.waitFor();
  const text = await row.textContent();
  assert.ok(text.includes(machine) && text.includes(secretId) && text.includes('active'), text);

  await row.getByRole('button', { name: `Renew ${creds.username}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: `Renew ${creds.username}` }).click();
  await page.locator('#status', { hasText: `Lease ${creds.username} renewed` }).waitFor();

  await page.locator('tr', { hasText: creds.username }).getByRole('button', { name: `Revoke ${creds.username}` }).click();
  await page.getByRole('dialog').getByRole('button', { name: `Revoke ${creds.username}` }).click();
  await page.locator('#status', { hasText: `Lease ${creds.username} revoked` }).waitFor();
  await page.locator('tr', { hasText: creds.username }).getByText('revoked').waitFor();
  assert.ok(!canLogIn(creds), 'a revoked role no longer logs in');
  assert.deepEqual(page.problems, []);
});
