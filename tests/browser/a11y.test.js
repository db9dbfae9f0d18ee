// The accessibility scan (issue 16): axe-core over every page of the dashboard, light and dark,
// at 1280 and 375 px wide, expecting no violation of any impact. One server, one signed-in
// session, realistic content so tables, badges and actions are on screen.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launch, newPage, setupOwner, confirmEnrollment, login, pageFetch, createUser, signet, loadAxe, axeViolations,
} from './harness.js';

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

const COMBOS = [
  ['light', 1280], ['dark', 1280], ['light', 375], ['dark', 375],
];

/** Waits until the page shows its heading and nothing is loading any more. */
async function settled(page, heading) {
  await page.getByRole('heading', { name: heading, level: 1, exact: true }).waitFor();
  await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
}

/** Scans the current page in every theme and width; returns the violations, labelled. */
async function scan(page, label) {
  const out = [];
  for (const [scheme, width] of COMBOS) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width, height: 800 });
    for (const v of await axeViolations(page)) out.push(`${label} (${scheme}, ${width}px): ${v}`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  return out;
}

test('every page of the dashboard has no accessibility violation, light and dark, wide and narrow', async () => {
  const page = await newPage(browser, { width: 1280, height: 800 });
  await loadAxe(page);
  const found = [];

  // Before anyone exists: the setup form, then the sign-in page.
  await page.goto(server.setupUrl.replace(/^https?:\/\/[^/]+/, server.url));
  await settled(page, 'Set up Signet');
  found.push(...await scan(page, 'setup'));
  const owner = await setupOwner(page, server);
  found.push(...await scan(page, 'setup: recovery codes'));
  // The enrollment's states: a refused code (its error next to the field), then confirmed.
  await page.getByLabel('Code from your authenticator app').fill('000000');
  await page.getByRole('button', { name: 'Confirm code' }).click();
  await page.locator('#enroll-totp-error').waitFor();
  found.push(...await scan(page, 'setup: wrong code'));
  await confirmEnrollment(page, owner);
  found.push(...await scan(page, 'setup: authenticator confirmed'));
  await page.goto('about:blank');
  await page.goto(server.setupUrl.replace(/^https?:\/\/[^/]+/, server.url));
  await page.locator('#setup-closed').waitFor();
  found.push(...await scan(page, 'setup: link used'));
  await page.goto(`${server.url}/#/login`);
  await settled(page, 'Sign in');
  found.push(...await scan(page, 'sign-in'));
  await login(page, server, owner);

  // Content for every page.
  const ok = async (path, body) => {
    const r = await pageFetch(page, 'POST', path, body);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    return r.json;
  };
  const payments = await ok('/v1/admin/projects', { name: 'payments' });
  const db = await ok('/v1/admin/secrets', { projectId: payments.id, name: 'DATABASE_URL', value: 'postgres://app@db/payments' });
  await ok(`/v1/admin/secrets/${db.id}/update`, { value: 'postgres://app@db2/payments' });
  await ok('/v1/admin/secrets', { projectId: payments.id, name: 'STRIPE', fields: { publishable_key: 'pk', secret_key: 'sk' } });
  const boot = await ok('/v1/admin/tokens/bootstrap', {});
  const enrolled = await signet(server.home('web-1'), ['--json', 'enroll', '--server', server.url, '--token', boot.token, '--name', 'web-1']);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  await ok('/v1/admin/tokens/enrollment', { name: 'ci runners', projectIds: [payments.id], maxUses: 20, ttlSecs: 86400, machineTtlSecs: 3600 });
  await ok('/v1/admin/ip-allowlist', { cidr: '10.0.0.0/8', label: 'office VPN' });
  await createUser(page, { username: 'bob', email: 'bob@example.com', password: 'bob-password-long', role: 'developer' });
  const invite = await ok('/v1/admin/users/invite', { email: 'carol@example.com', role: 'viewer' });
  const share = await pageFetch(page, 'POST', '/v1/admin/shares', { value: 'a value to share', passphrase: 'a long passphrase', ttlSeconds: 3600 });
  // Workload identity, AI agents, root keys and connections: an issuer with a rule, a host
  // waiting to be approved and an approved agent, a rotated keyring, a database connection.
  const issuer = await ok('/v1/admin/issuers', { name: 'GitHub Actions', issuer: 'https://token.actions.githubusercontent.com', audience: 'signet' });
  await ok(`/v1/admin/issuers/${issuer.id}/rules`, { name: 'main branch', claims: { repository: 'acme/api', ref: 'refs/heads/main' }, projectIds: [payments.id], secretIds: [db.id] });
  const vaultId = (await pageFetch(page, 'GET', '/v1/admin/vault')).json.vaultId;
  for (const name of ['assistant', 'copilot-host']) {
    const asked = await signet(server.home(name), ['--json', 'enroll', '--server', server.url, '--vault', vaultId, '--request', '--name', name]);
    assert.equal(asked.code, 0, asked.stderr);
    if (name === 'assistant') {
      const { machineId, fingerprint } = JSON.parse(asked.stdout);
      await ok(`/v1/admin/ai-agents/${machineId}/approve`, { fingerprint, scopes: ['projects.read', 'secrets.read'], projectIds: [payments.id] });
    }
  }
  await ok('/v1/admin/keys/root/rotate', { start: true });
  await ok(`/v1/admin/projects/${payments.id}/connections`, {
    name: 'main', host: 'db.internal', port: 5432, database: 'payments', adminUser: 'signet_admin', adminPassword: 'not-shown', tlsMode: 'verify-full',
  });

  // Every signed-in page, as the navigation lists it, plus a project's secrets and a missing page.
  const pages = await page.locator('nav a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent]));
  assert.ok(pages.length >= 10, `the owner sees every page: ${pages.map((p) => p[1])}`);
  pages.push([`#/secrets/${payments.id}`, 'Secrets'], [`#/issuers/${issuer.id}`, 'GitHub Actions'], ['#/no-such-page', 'Not found']);
  for (const [href, heading] of pages) {
    await page.goto(`${server.url}/${href}`);
    await settled(page, heading);
    found.push(...await scan(page, href));
  }

  // Pages opened from links, signed out: an invitation and a share link.
  const visitor = await newPage(browser, { width: 1280, height: 800 });
  await loadAxe(visitor);
  await visitor.goto(invite.inviteUrl);
  await settled(visitor, 'Accept invitation');
  found.push(...await scan(visitor, 'invitation'));
  if (share.status === 200) {
    await visitor.goto(share.json.url);
    await visitor.locator('main h1').waitFor();
    await visitor.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
    found.push(...await scan(visitor, 'share link'));
  }

  assert.deepEqual(found, [], `accessibility violations:\n${found.join('\n')}`);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(visitor.problems, []);
});
