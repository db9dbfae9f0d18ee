// A viewer's browser session is refused on every POST admin route, and nothing changes. The route
// list is read from the routers' source at test time, so a new route cannot be forgotten here.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  startServer, launch, newPage, setupOwner, login, signet, hasRoute, pageFetch, createUser, repoRoot,
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

/**
 * The path a `.route(...)` call registers: a quoted literal, or a `route::<area>::<NAME>`
 * constant looked up in crates/api/src/route.rs, where every route path is declared.
 */
function routePath(call) {
  const literal = call.split('"')[1];
  if (literal !== undefined) return literal;
  const m = /^\s*route::(\w+)::(\w+)/.exec(call);
  if (!m) throw new Error(`a path literal or a route:: constant: ${call}`);
  const src = readFileSync(join(repoRoot, 'crates/api/src/route.rs'), 'utf8');
  const area = src.split(`pub mod ${m[1]} {`)[1];
  const line = area?.split('\n').find((l) => l.trim().startsWith(`pub const ${m[2]}: &str = `));
  if (!line) throw new Error(`no route constant ${m[1]}::${m[2]}`);
  return line.split('"')[1];
}

/** Every `.route(...)` under /v1/admin/ that takes POST, as written in the server's route files. */
function adminPostRoutes() {
  const dir = join(repoRoot, 'crates/server/src/routes');
  const out = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.rs'))) {
    let rest = readFileSync(join(dir, file), 'utf8');
    for (let i = rest.indexOf('.route('); i >= 0; i = rest.indexOf('.route(')) {
      rest = rest.slice(i + '.route('.length);
      let depth = 1;
      let end = 0;
      for (; end < rest.length && depth > 0; end++) {
        if (rest[end] === '(') depth++;
        if (rest[end] === ')') depth--;
      }
      const call = rest.slice(0, end);
      const path = routePath(call);
      if (call.includes('post(') && path && path.startsWith('/v1/admin/')) out.push(path);
      rest = rest.slice(end);
    }
  }
  return out;
}

test('a viewer session gets 403 on every POST admin route and changes nothing', async (t) => {
  assert.ok(await hasRoute(server.url, 'POST', '/v1/auth/setup'), 'the server routes POST /v1/auth/setup');
  const ownerPage = await newPage(browser);
  const owner = await setupOwner(ownerPage, server);
  await login(ownerPage, server, owner);
  const ok = async (method, path, body) => {
    const r = await pageFetch(ownerPage, method, path, body);
    assert.equal(r.status, 200, `${method} ${path}: ${r.text}`);
    return r.json;
  };

  // Real objects for the id-taking routes, so a 403 is the role and not a missing id.
  const p = (await ok('POST', '/v1/admin/projects', { name: 'payments' })).id;
  const sid = (await ok('POST', '/v1/admin/secrets', { projectId: p, name: 'DATABASE_URL', value: 'v1' })).id;
  const tid = (await ok('POST', '/v1/admin/tokens/enrollment', { projectIds: [p] })).id;
  const eid = (await ok('POST', '/v1/admin/ip-allowlist', { cidr: '127.0.0.0/8', label: 'here' })).id;
  const polid = (await ok('POST', `/v1/admin/projects/${p}/policies`, { name: 'pol', rules: { perMinute: 5 } })).id;
  const boot = await ok('POST', '/v1/admin/tokens/bootstrap', {});
  const enrolled = await signet(server.home('m'), ['--json', 'enroll', '--server', server.url, '--token', boot.token, '--name', 'web-1']);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const mid = JSON.parse(enrolled.stdout).machineId;
  const vera = await createUser(ownerPage, { username: 'vera', email: 'vera@example.com', password: 'vera-password-long', role: 'viewer' });
  const ownerId = (await ok('GET', '/v1/auth/session')).user.id;
  let inviteId = 'inv_unknown';
  const invited = await pageFetch(ownerPage, 'POST', '/v1/admin/users/invite', { email: 'zed@example.com', role: 'viewer' });
  if (invited.status === 200) inviteId = invited.json.inviteId;
  // A real SSO provider with a mapping, once the server has the routes.
  let ssoId = 'sso_000000000000';
  let ssmId = 'ssm_000000000000';
  const sso = await pageFetch(ownerPage, 'POST', '/v1/admin/sso/providers', { name: 'Acme', issuer: 'https://login.example.com', clientId: 'signet' });
  if (sso.status === 200) {
    ssoId = sso.json.id;
    ssmId = (await ok('POST', `/v1/admin/sso/providers/${ssoId}/mappings`, { claim: 'groups', value: 'devs', role: 'viewer' })).mappings[0].id;
  }

  const snapshotPaths = ['/v1/admin/vault', '/v1/admin/projects', `/v1/admin/secrets/${sid}`, `/v1/admin/secrets/${sid}/versions`,
    '/v1/admin/tokens/enrollment', '/v1/admin/machines', '/v1/admin/ip-allowlist', '/v1/admin/users',
    '/v1/admin/request-budgets', '/v1/admin/keys/root'];
  if (sso.status === 200) snapshotPaths.push('/v1/admin/sso/providers');
  const snapshot = async () => Promise.all(snapshotPaths.map(async (path) => JSON.stringify(await ok('GET', path))));
  const was = await snapshot();
  const tokenless = (await ok('GET', '/v1/admin/vault')).tokenlessEnrollment;

  const m = (a) => `/v1/admin/machines/${mid}/${a}`;
  const machine = '/v1/admin/machines/{id}/{action}';
  const u = (a) => `/v1/admin/users/${ownerId}/${a}`;
  const user = '/v1/admin/users/{id}/{action}';
  const table = [
    ['/v1/admin/vault/settings', '/v1/admin/vault/settings', { tokenlessEnrollment: !tokenless }],
    ['/v1/admin/request-budgets', '/v1/admin/request-budgets', { requestsPerMinute: 5 }],
    ['/v1/admin/request-budgets', '/v1/admin/request-budgets', { machineId: mid, requestsPerMinute: 5 }],
    ['/v1/admin/projects', '/v1/admin/projects', { name: 'x' }],
    ['/v1/admin/projects/{id}/rename', `/v1/admin/projects/${p}/rename`, { name: 'renamed' }],
    ['/v1/admin/projects/{id}/policies', `/v1/admin/projects/${p}/policies`, { name: 'x' }],
    ['/v1/admin/projects/{id}/policies/{policy}/update', `/v1/admin/projects/${p}/policies/${polid}/update`, { rules: {} }],
    ['/v1/admin/projects/{id}/policies/{policy}/delete', `/v1/admin/projects/${p}/policies/${polid}/delete`, {}],
    ['/v1/admin/secrets/{id}/policy', `/v1/admin/secrets/${sid}/policy`, { policyId: polid }],
    ['/v1/admin/projects/{id}/delete', `/v1/admin/projects/${p}/delete`, {}],
    ['/v1/admin/trash/{id}/restore', `/v1/admin/trash/${sid}/restore`, {}],
    ['/v1/admin/trash/{id}/purge', `/v1/admin/trash/${sid}/purge`, {}],
    ['/v1/admin/trash/retention', '/v1/admin/trash/retention', { days: 7 }],
    ['/v1/admin/projects/{id}/canaries', `/v1/admin/projects/${p}/canaries`, { name: 'TRAP' }],
    ['/v1/admin/projects/{id}/unfreeze', `/v1/admin/projects/${p}/unfreeze`, {}],
    ['/v1/admin/secrets', '/v1/admin/secrets', { projectId: p, name: 'X', value: 'v' }],
    ['/v1/admin/secrets/{id}/update', `/v1/admin/secrets/${sid}/update`, { value: 'changed' }],
    ['/v1/admin/secrets/{id}/rollback', `/v1/admin/secrets/${sid}/rollback`, { version: 1 }],
    ['/v1/admin/secrets/{id}/delete', `/v1/admin/secrets/${sid}/delete`, {}],
    ['/v1/admin/secrets/{id}/rotate', `/v1/admin/secrets/${sid}/rotate`, {}],
    ['/v1/admin/secrets/{id}/rotation', `/v1/admin/secrets/${sid}/rotation`, { intervalSeconds: 300 }],
    ['/v1/admin/secrets/{id}/rotation/clear', `/v1/admin/secrets/${sid}/rotation/clear`, {}],
    ['/v1/admin/secrets/{id}/rotation/pause', `/v1/admin/secrets/${sid}/rotation/pause`, {}],
    ['/v1/admin/secrets/{id}/rotation/resume', `/v1/admin/secrets/${sid}/rotation/resume`, {}],
    ['/v1/admin/tokens/bootstrap', '/v1/admin/tokens/bootstrap', {}],
    ['/v1/admin/tokens/enrollment', '/v1/admin/tokens/enrollment', { projectIds: [p] }],
    ['/v1/admin/tokens/enrollment/{id}/revoke', `/v1/admin/tokens/enrollment/${tid}/revoke`, {}],
    ...['approve', 'deny', 'enable', 'disable', 'revoke'].map((a) => [machine, m(a), {}]),
    [machine, m('attach'), { projectId: p }],
    [machine, m('detach'), { projectId: p }],
    [machine, m('grant'), { secretIds: [sid] }],
    [machine, m('ungrant'), { secretIds: [sid] }],
    [machine, m('cidrs'), { cidrs: ['10.0.0.0/8'] }],
    ['/v1/admin/ip-allowlist', '/v1/admin/ip-allowlist', { cidr: '10.9.0.0/16' }],
    ['/v1/admin/ip-allowlist/enable', '/v1/admin/ip-allowlist/enable', {}],
    ['/v1/admin/ip-allowlist/disable', '/v1/admin/ip-allowlist/disable', {}],
    ['/v1/admin/ip-allowlist/{id}/delete', `/v1/admin/ip-allowlist/${eid}/delete`, {}],
    ['/v1/admin/users', '/v1/admin/users', { username: 'mal', email: 'mal@example.com', password: 'mal-password-long', role: 'viewer' }],
    ['/v1/admin/users/invite', '/v1/admin/users/invite', { email: 'mal@example.com', role: 'owner' }],
    ['/v1/admin/users/invites/{id}/revoke', `/v1/admin/users/invites/${inviteId}/revoke`, {}],
    ['/v1/admin/shares', '/v1/admin/shares', { value: 'v', passphrase: 'long enough passphrase', ttlSeconds: 600 }],
    ['/v1/admin/shares/{id}/revoke', '/v1/admin/shares/shr_0000000000000000/revoke', {}],
    ['/v1/admin/projects/{id}/connections', `/v1/admin/projects/${p}/connections`, { name: 'db', host: '127.0.0.1', port: 5432, database: 'd', adminUser: 'u', adminPassword: 'p', tlsMode: 'disable' }],
    ['/v1/admin/projects/{id}/connections/{connection}/update', `/v1/admin/projects/${p}/connections/dbc_0000000000/update`, { name: 'db', host: '127.0.0.1', port: 5432, database: 'd', adminUser: 'u', adminPassword: 'p', tlsMode: 'disable' }],
    ['/v1/admin/projects/{id}/connections/{connection}/delete', `/v1/admin/projects/${p}/connections/dbc_0000000000/delete`, {}],
    ['/v1/admin/projects/{id}/connections/{connection}/test', `/v1/admin/projects/${p}/connections/dbc_0000000000/test`, {}],
    ['/v1/admin/projects/{id}/leased-secrets', `/v1/admin/projects/${p}/leased-secrets`, { name: 'DB', settings: { connectionId: 'dbc_0000000000', ttlSecs: 60, maxTtlSecs: 60, grantSql: ['SELECT 1'] } }],
    ['/v1/admin/secrets/{id}/lease', `/v1/admin/secrets/${sid}/lease`, { connectionId: 'dbc_0000000000', ttlSecs: 60, maxTtlSecs: 60, grantSql: ['SELECT 1'] }],
    ['/v1/admin/leases/{id}/renew', '/v1/admin/leases/lease_0000000000000000/renew', {}],
    ['/v1/admin/leases/{id}/revoke', '/v1/admin/leases/lease_0000000000000000/revoke', {}],
    ['/v1/admin/webhooks', '/v1/admin/webhooks', { name: 'w', url: 'https://93.184.215.14/x' }],
    ['/v1/admin/webhooks/{id}/update', '/v1/admin/webhooks/wh_000000000000/update', { enabled: false }],
    ['/v1/admin/webhooks/{id}/delete', '/v1/admin/webhooks/wh_000000000000/delete', {}],
    ['/v1/admin/webhooks/{id}/test', '/v1/admin/webhooks/wh_000000000000/test', {}],
    ['/v1/admin/alerts', '/v1/admin/alerts', { name: 'r', severity: 'info', actions: ['canary_triggered'], webhooks: ['wh_000000000000'] }],
    ['/v1/admin/alerts/{id}/delete', '/v1/admin/alerts/alr_000000000000/delete', {}],
    ['/v1/admin/secrets/{id}/managed', `/v1/admin/secrets/${sid}/managed`, { connectionId: 'dbc_0000000000' }],
    ['/v1/admin/audit/archive', '/v1/admin/audit/archive', {}],
    // Trusted OIDC issuers (an unknown id answers the same 403 as a refused role; the core
    // roles test refuses a viewer on real ones) and AI agents (the enrolled machine's id).
    ['/v1/admin/issuers', '/v1/admin/issuers', { name: 'ci', issuer: 'https://token.example', audience: 'signet' }],
    ['/v1/admin/issuers/{id}/update', '/v1/admin/issuers/iss_000000000000/update', { audience: 'other' }],
    ['/v1/admin/issuers/{id}/delete', '/v1/admin/issuers/iss_000000000000/delete', {}],
    ['/v1/admin/issuers/{id}/rules', '/v1/admin/issuers/iss_000000000000/rules', { name: 'r', claims: { sub: 'x' }, projectIds: [p] }],
    ['/v1/admin/issuers/{id}/rules/{rule}/delete', '/v1/admin/issuers/iss_000000000000/rules/isr_000000000000/delete', {}],
    ['/v1/admin/ai-agents/{id}/approve', `/v1/admin/ai-agents/${mid}/approve`, { fingerprint: 'x', scopes: ['audit.read'] }],
    ['/v1/admin/ai-agents/{id}/scopes', `/v1/admin/ai-agents/${mid}/scopes`, { scopes: ['audit.read'] }],
    // Single sign-on (owners only), and unlinking an identity the viewer does not have.
    ['/v1/admin/sso/providers', '/v1/admin/sso/providers', { name: 'Evil', issuer: 'https://evil.example.com', clientId: 'evil' }],
    ['/v1/admin/sso/providers/{id}/update', `/v1/admin/sso/providers/${ssoId}/update`, { enabled: false }],
    ['/v1/admin/sso/providers/{id}/delete', `/v1/admin/sso/providers/${ssoId}/delete`, {}],
    ['/v1/admin/sso/providers/{id}/mappings', `/v1/admin/sso/providers/${ssoId}/mappings`, { claim: 'groups', value: 'x', role: 'owner' }],
    ['/v1/admin/sso/providers/{id}/mappings/{mapping}/delete', `/v1/admin/sso/providers/${ssoId}/mappings/${ssmId}/delete`, {}],
    ['/v1/admin/account/sso/{provider}/delete', `/v1/admin/account/sso/${ssoId}/delete`, {}],
    // The root keyring (owners only, with a fresh second factor): a viewer neither rotates nor
    // retires, and the generations stay as they were (the snapshot below).
    ['/v1/admin/keys/root/rotate', '/v1/admin/keys/root/rotate', { start: true }],
    ['/v1/admin/keys/root/retire', '/v1/admin/keys/root/retire', { generation: 0 }],
    // A project's key (owners and admins): a viewer does not rotate it.
    ['/v1/admin/projects/{id}/key/rotate', `/v1/admin/projects/${p}/key/rotate`, {}],
    [user, u('role'), { role: 'viewer' }],
    [user, u('suspend'), {}],
    [user, u('activate'), {}],
    [user, u('delete'), {}],
  ];
  // Reads that are POSTs because signed routes take no query string, and acts on the caller's
  // own session, keys and account: open to viewers on purpose.
  const openToViewers = (r) => ['/v1/admin/logout', '/v1/admin/secrets/query', '/v1/admin/audit/query', '/v1/admin/audit/verify', '/v1/admin/leases/query'].includes(r)
    || r.startsWith('/v1/admin/account');
  const routes = adminPostRoutes();
  assert.ok(routes.length > 10, `parsed the router: ${routes}`);
  for (const r of routes) {
    assert.ok(table.some(([route]) => route === r) || openToViewers(r), `POST ${r} is in the router but not in this test's table`);
  }
  // A route the contract names but the router lacks yet is not tried.
  const tried = table.filter(([route]) => routes.includes(route));
  if (tried.length < table.length) t.diagnostic(`not on the router yet: ${table.filter((x) => !tried.includes(x)).map(([r]) => r).join(', ')}`);

  const viewerPage = await newPage(browser);
  await login(viewerPage, server, vera);
  for (const [, path, body] of tried) {
    const r = await pageFetch(viewerPage, 'POST', path, body);
    assert.equal(r.status, 403, `viewer POST ${path}: ${r.status} ${r.text}`);
    assert.deepEqual(r.json, { error: 'access denied', code: 'access_denied' }, `POST ${path}`);
  }
  assert.deepEqual(await snapshot(), was, 'nothing changed');

  // The dashboard hides what a viewer cannot open.
  assert.equal(await viewerPage.getByRole('navigation').getByRole('link', { name: 'Users', exact: true }).count(), 0);
  assert.equal(await viewerPage.getByRole('navigation').getByRole('link', { name: 'Root keys', exact: true }).count(), 0);
  for (const shown of ['Workload identity', 'AI agents']) {
    assert.equal(await viewerPage.getByRole('navigation').getByRole('link', { name: shown, exact: true }).count(), 1, `${shown}: listed for a viewer, read-only`);
  }
  assert.deepEqual(viewerPage.problems, []);
  assert.deepEqual(ownerPage.problems, []);
});
