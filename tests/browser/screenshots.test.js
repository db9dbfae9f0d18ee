// Screenshots of the main pages for the README, taken from a server with realistic content.
// Also a smoke test: every page renders with no script error and no CSP violation.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer, launch, newPage, setupOwner, login, signet, hasRoute, pageFetch, createUser } from './harness.js';

// The README shows these; every run refreshes them (SCREENSHOT_DIR sends them elsewhere).
const OUT = resolve(process.env.SCREENSHOT_DIR ?? new URL('../../docs/screenshots', import.meta.url).pathname);

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

test('every main page renders; screenshots for the docs', async (t) => {
  assert.ok(await hasRoute(server.url, 'POST', '/v1/auth/setup'), 'the server routes POST /v1/auth/setup');
  mkdirSync(OUT, { recursive: true });
  const page = await newPage(browser, { width: 1280, height: 800 });
  const shot = (name) => page.screenshot({ path: join(OUT, `${name}.png`), fullPage: false });

  const owner = await setupOwner(page, server, { username: 'alice', email: 'alice@example.com' });
  await page.goto(`${server.url}/#/login`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await shot('login');
  await login(page, server, owner);

  const ok = async (path, body) => {
    const r = await pageFetch(page, 'POST', path, body);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return r.json;
  };
  const payments = await ok('/v1/admin/projects', { name: 'payments' });
  await ok('/v1/admin/projects', { name: 'search' });
  const db = await ok('/v1/admin/secrets', { projectId: payments.id, name: 'DATABASE_URL', value: 'postgres://app@db/payments' });
  await ok(`/v1/admin/secrets/${db.id}/update`, { value: 'postgres://app@db2/payments' });
  await ok('/v1/admin/secrets', { projectId: payments.id, name: 'STRIPE', fields: { publishable_key: 'pk', secret_key: 'sk' } });
  await ok('/v1/admin/secrets', { projectId: payments.id, name: 'SESSION_KEY', value: 'k' });
  for (const name of ['web-1', 'worker-1', 'batch-7']) {
    const boot = await ok('/v1/admin/tokens/bootstrap', {});
    const out = await signet(server.home(name), ['--json', 'enroll', '--server', server.url, '--token', boot.token, '--name', name]);
    assert.equal(out.code, 0, out.stderr);
    if (name !== 'batch-7') {
      const { machineId, fingerprint } = JSON.parse(out.stdout);
      await ok(`/v1/admin/machines/${machineId}/approve`, { fingerprint });
      await ok(`/v1/admin/machines/${machineId}/attach`, { projectId: payments.id });
      await ok(`/v1/admin/machines/${machineId}/grant`, { secretIds: [db.id] });
    }
  }
  await ok('/v1/admin/tokens/enrollment', { name: 'ci runners', projectIds: [payments.id], maxUses: 20, ttlSecs: 86400, machineTtlSecs: 3600 });
  await ok('/v1/admin/ip-allowlist', { cidr: '10.0.0.0/8', label: 'office VPN' });
  await createUser(page, { username: 'bob', email: 'bob@example.com', password: 'bob-password-long', role: 'developer' });
  await createUser(page, { username: 'vera', email: 'vera@example.com', password: 'vera-password-long', role: 'viewer' });
  const sso = await pageFetch(page, 'POST', '/v1/admin/sso/providers', { name: 'Acme Login', issuer: 'https://login.acme.example', clientId: 'signet', clientSecret: 'not-a-real-secret', jitUsers: true });
  if (sso.status === 200) {
    await ok(`/v1/admin/sso/providers/${sso.json.id}/mappings`, { claim: 'groups', value: 'platform-team', role: 'admin' });
    await ok(`/v1/admin/sso/providers/${sso.json.id}/mappings`, { claim: 'groups', value: 'payments-devs', role: 'developer', projectIds: [payments.id] });
  }

  // Workload identity, an AI agent, a database connection and a machine's request budget.
  const gha = await ok('/v1/admin/issuers', { name: 'GitHub Actions', issuer: 'https://token.actions.githubusercontent.com', audience: 'signet' });
  await ok(`/v1/admin/issuers/${gha.id}/rules`, { name: 'api main', claims: { repository: 'acme/api', ref: 'refs/heads/main' }, projectIds: [payments.id], secretIds: [db.id], machineTtlSeconds: 900 });
  const vaultId = (await pageFetch(page, 'GET', '/v1/admin/vault')).json.vaultId;
  const asked = await signet(server.home('assistant'), ['--json', 'enroll', '--server', server.url, '--vault', vaultId, '--request', '--name', 'assistant']);
  assert.equal(asked.code, 0, asked.stderr);
  const agent = JSON.parse(asked.stdout);
  await ok(`/v1/admin/ai-agents/${agent.machineId}/approve`, { fingerprint: agent.fingerprint, scopes: ['projects.read', 'secrets.read', 'secrets.write'], projectIds: [payments.id] });
  await ok(`/v1/admin/projects/${payments.id}/connections`, {
    name: 'payments-db', host: 'db.internal', port: 5432, database: 'payments', adminUser: 'signet_admin', adminPassword: 'not-shown', tlsMode: 'verify-full',
  });
  await ok('/v1/admin/request-budgets', { requestsPerMinute: 600 });
  await ok('/v1/admin/keys/root/rotate', { start: true });

  const pages = [
    ['overview', '#/', 'Overview'],
    ['projects', '#/projects', 'Projects'],
    ['secrets', '#/secrets', 'Secrets'],
    ['machines', '#/machines', 'Machines'],
    ['tokens', '#/tokens', 'Tokens'],
    ['allowlist', '#/allowlist', 'IP allowlist'],
    ['audit', '#/audit', 'Audit log'],
    ['users', '#/users', 'Users'],
    ['sso', '#/sso', 'Single sign-on'],
    ['issuers', '#/issuers', 'Workload identity'],
    ['agents', '#/agents', 'AI agents'],
    ['keys', '#/keys', 'Root keys'],
    ['connections', '#/connections', 'Connections'],
    ['budgets', '#/budgets', 'Request budgets'],
    ['account', '#/account', 'Account'],
  ];
  for (const [name, hash, heading] of pages) {
    // A fresh load each time: going to the hash already shown would not render it again.
    await page.goto('about:blank');
    await page.goto(`${server.url}/${hash}`);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    if (name === 'tokens') await page.getByRole('button', { name: 'Issue bootstrap token' }).click();
    if (name === 'tokens') await page.locator('#bootstrap-result code').waitFor();
    await shot(name);
  }

  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto(`${server.url}/#/machines`);
  await page.getByRole('heading', { name: 'Machines', level: 1 }).waitFor();
  await page.waitForLoadState('networkidle');
  await shot('machines-375');
  const nav = page.getByRole('navigation', { name: 'Main' });
  assert.equal(await nav.isVisible(), false, 'the navigation is collapsed on a phone');
  await page.getByRole('button', { name: 'Menu' }).click();
  assert.equal(await nav.isVisible(), true);
  await shot('menu-375');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scroll at 375 px (overflow ${overflow})`);
  // Issue 16, the shell's own pages on a phone: ids whole, nothing clipped, no sideways scroll.
  for (const [name, hash, heading] of [['overview-375', '#/', 'Overview'], ['account-375', '#/account', 'Account']]) {
    await page.goto('about:blank');
    await page.goto(`${server.url}/${hash}`);
    await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(wide <= 0, `${name}: no horizontal scroll (overflow ${wide})`);
  }
  assert.deepEqual(page.problems, []);
});
