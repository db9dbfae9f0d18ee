// The Workload identity page (issue 16, the pages of issue 14's features): an owner trusts an
// OIDC issuer with a pinned key set and adds a rule from the page (refusals next to their
// fields); the CLI sees the same rule; a real `signet enroll --oidc-token`, run as the page
// shows it with a token signed by the pinned key, makes an approved machine that reads the
// granted secret and not the other; a token matching no rule enrolls nothing; the rule and the
// issuer are removed after confirming. A developer sees the list and no form.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launch, newPage, setupOwner, login, signet, go, createUser, ok } from './harness.js';
import { operatorLogin } from './operator.js';

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

const ISS = 'https://ci.example.test';
const AUD = 'signet-ci';

/** An ES256 key pair; the public half as the JWKS an issuer would publish. */
function issuerKey() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' };
  return { privateKey, jwks: { keys: [jwk] } };
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** A platform token as a CI system would mint it: ES256 over header and claims. */
function mint(privateKey, claims) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'ES256', kid: 'k1', typ: 'JWT' }));
  const body = b64url(JSON.stringify({
    iss: ISS, aud: AUD, iat: now - 5, nbf: now - 5, exp: now + 300, jti: randomBytes(8).toString('hex'), ...claims,
  }));
  const sig = sign('sha256', Buffer.from(`${head}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${head}.${body}.${b64url(sig)}`;
}

test('an issuer and a rule made on the page enroll a real workload with its platform token', async () => {
  const page = await newPage(browser);
  owner ||= await setupOwner(page, server);
  await login(page, server, owner);
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  const granted = await ok(page, 'POST', '/v1/admin/secrets', { projectId: project.id, name: 'DATABASE_URL', value: 'postgres://ci@db/payments' });
  const other = await ok(page, 'POST', '/v1/admin/secrets', { projectId: project.id, name: 'OTHER', value: 'not-for-ci' });
  const { privateKey, jwks } = issuerKey();

  await go(page, 'Workload identity');
  await page.getByText('No issuer is trusted yet').waitFor();
  const add = page.getByRole('region', { name: 'Trust an issuer' });
  await add.getByLabel('Platform').selectOption('other');
  assert.equal(await add.getByLabel('Issuer URL').inputValue(), '', 'a fixed platform URL is cleared for another issuer');
  await add.getByLabel('Name').fill('ci');
  await add.getByLabel('Audience').fill(AUD);
  // Refusals sit next to their field: a key set that is not JSON (the page's own check) and an
  // issuer URL with a query (the server's).
  await add.getByLabel('Issuer URL').fill(ISS);
  await add.getByLabel('Pinned key set (JWKS, optional)').fill('{"keys": [');
  await add.getByRole('button', { name: 'Trust issuer' }).click();
  const jwksBox = add.getByLabel('Pinned key set (JWKS, optional)');
  await page.locator('#issuer-jwks[aria-invalid="true"]').waitFor();
  assert.match(await page.locator('#issuer-jwks-error').textContent(), /not JSON/);
  await jwksBox.fill(JSON.stringify(jwks));
  await add.getByLabel('Issuer URL').fill(`${ISS}/?tenant=1`);
  await add.getByRole('button', { name: 'Trust issuer' }).click();
  await page.locator('#issuer-url[aria-invalid="true"]').waitFor();
  assert.match(await page.locator('#issuer-url-error').textContent(), /https/i);
  assert.equal(await page.locator('#issuer-jwks[aria-invalid="true"]').count(), 0, 'the fixed field is no longer marked');
  await add.getByLabel('Issuer URL').fill(ISS);
  await add.getByRole('button', { name: 'Trust issuer' }).click();

  // Its page: details, no rules yet, the rule form.
  await page.getByRole('heading', { name: 'ci', level: 1 }).waitFor();
  await page.getByText('No rules yet').waitFor();
  const ruleForm = page.getByRole('region', { name: 'Add a rule' });
  await ruleForm.getByLabel('Name').fill('main branch');
  await ruleForm.getByLabel('Claims that must hold').fill('repository acme/api');
  await ruleForm.getByRole('button', { name: 'Add rule' }).click();
  await page.locator('#rule-claims[aria-invalid="true"]').waitFor();
  await ruleForm.getByLabel('Claims that must hold').fill('repository=acme/api\nref=refs/heads/main');
  await ruleForm.getByRole('button', { name: 'Add rule' }).click();
  assert.match(await page.locator('#rule-projects .field-error').textContent(), /at least one project/);
  await ruleForm.getByLabel('DATABASE_URL (payments)').check();
  await ruleForm.getByLabel('Machine lifetime (minutes)').fill('10');
  await ruleForm.getByRole('button', { name: 'Add rule' }).click();
  const rules = page.getByRole('table', { name: 'Rules of ci' });
  await rules.locator('tr', { hasText: /main branch/ }).waitFor();
  const ruleText = await rules.locator('tr', { hasText: /main branch/ }).textContent();
  assert.match(ruleText, /repository=acme\/api/);
  assert.match(ruleText, /DATABASE_URL/);
  assert.match(ruleText, /10 min/);
  assert.doesNotMatch(await page.locator('main').textContent(), /postgres:\/\//, 'no value on the page');

  // What the API and the CLI see is what the page made.
  const { issuers } = await ok(page, 'GET', '/v1/admin/issuers');
  assert.equal(issuers.length, 1);
  const [iss] = issuers;
  assert.deepEqual([iss.issuer, iss.audience, iss.pinned], [ISS, AUD, true]);
  assert.deepEqual(iss.rules.map((r) => [r.name, r.claims, r.projectIds, r.secretIds, r.machineTtlSeconds]),
    [['main branch', { ref: 'refs/heads/main', repository: 'acme/api' }, [project.id], [granted.id], 600]]);
  const cli = await operatorLogin(server, owner, 'cli-home');
  const listed = await signet(cli, ['--json', 'issuer', 'list']);
  assert.equal(listed.code, 0, listed.stderr);
  const seen = JSON.parse(listed.stdout);
  assert.deepEqual((seen.issuers || seen).map((i) => [i.id, i.rules.map((r) => [r.id, r.claims, r.secretIds])]),
    [[iss.id, iss.rules.map((r) => [r.id, r.claims, r.secretIds])]]);

  // The enroll command as the page shows it, with a token the issuer signed.
  const shown = await page.locator('code.command', { hasText: '--oidc-token' }).textContent();
  assert.ok(shown.startsWith(`signet enroll --server ${server.url} --vault vault_`), shown);
  const tokenFile = join(server.root, 'token.jwt');
  writeFileSync(tokenFile, mint(privateKey, { sub: 'repo:acme/api:ref:refs/heads/main', repository: 'acme/api', ref: 'refs/heads/main' }));
  const args = shown.split(' ').slice(1).map((a) => (a === 'token.jwt' ? tokenFile : a));
  const home = server.home('ci-job');
  const enrolled = await signet(home, ['--json', ...args, '--name', 'ci-job']);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const machine = JSON.parse(enrolled.stdout);
  assert.equal(machine.status, 'approved');
  const read = await signet(home, ['get', granted.id]);
  assert.equal(read.code, 0, read.stderr);
  assert.equal(read.stdout.trimEnd(), 'postgres://ci@db/payments');
  assert.notEqual((await signet(home, ['get', other.id])).code, 0, 'a secret the rule does not grant stays closed');

  // A token from another branch matches no rule: nothing enrolls.
  writeFileSync(tokenFile, mint(privateKey, { sub: 'repo:acme/api:ref:refs/heads/dev', repository: 'acme/api', ref: 'refs/heads/dev' }));
  const refused = await signet(server.home('dev-job'), ['--json', ...args, '--name', 'dev-job']);
  assert.notEqual(refused.code, 0, 'a token no rule matches is refused');

  // A developer sees the issuers and no form.
  const bob = await createUser(page, { username: 'bob', email: 'bob@example.com', password: 'bob-password-long', role: 'developer' });
  const dev = await newPage(browser);
  await login(dev, server, bob);
  await go(dev, 'Workload identity');
  await dev.getByRole('link', { name: 'ci', exact: true }).waitFor();
  assert.equal(await dev.getByRole('region', { name: 'Trust an issuer' }).count(), 0);
  await dev.getByRole('link', { name: 'ci', exact: true }).click();
  await dev.getByRole('heading', { name: 'ci', level: 1 }).waitFor();
  assert.equal(await dev.getByRole('button', { name: /Remove rule|Delete issuer/ }).count(), 0, 'no destructive button for a developer');
  await dev.close();

  // The rule, then the issuer, removed after confirming.
  await page.getByRole('button', { name: 'Remove rule main branch' }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Remove rule main branch' }).click();
  await page.getByText('No rules yet').waitFor();
  assert.deepEqual((await ok(page, 'GET', `/v1/admin/issuers/${iss.id}`)).rules, []);
  await page.getByRole('button', { name: 'Delete issuer ci' }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete issuer ci' });
  await confirm.getByLabel('Type ci to confirm').fill('ci');
  await confirm.getByRole('button', { name: 'Delete issuer ci' }).click();
  await page.getByRole('heading', { name: 'Workload identity', level: 1 }).waitFor();
  await page.getByText('No issuer is trusted yet').waitFor();
  assert.deepEqual((await ok(page, 'GET', '/v1/admin/issuers')).issuers, []);
  assert.deepEqual(page.problems, []);
});

test('an issuer is edited in a dialog: a new audience and a rotated pinned key set take effect, focus comes back', async () => {
  const page = await newPage(browser);
  owner ||= await setupOwner(page, server);
  await login(page, server, owner);
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'billing' });
  const secret = await ok(page, 'POST', '/v1/admin/secrets', { projectId: project.id, name: 'TOKEN', value: 'for-ci-only' });
  const oldKey = issuerKey();
  const newKey = issuerKey();
  const iss2 = 'https://ci2.example.test';
  const made = await ok(page, 'POST', '/v1/admin/issuers', { name: 'ci two', issuer: iss2, audience: AUD, jwks: oldKey.jwks });
  await ok(page, 'POST', `/v1/admin/issuers/${made.id}/rules`, { name: 'any', claims: { repository: 'acme/billing' }, projectIds: [project.id], secretIds: [secret.id] });

  await go(page, 'Workload identity');
  await page.getByRole('link', { name: 'ci two', exact: true }).click();
  await page.getByRole('heading', { name: 'ci two', level: 1 }).waitFor();
  const edit = page.getByRole('button', { name: 'Edit issuer ci two' });
  await edit.click();
  const dialog = page.getByRole('dialog', { name: 'Edit ci two' });
  assert.equal(await dialog.getByLabel('Audience').inputValue(), AUD, 'the form starts from what is stored');
  assert.equal(await dialog.getByLabel('Clock leeway (seconds)').inputValue(), String(made.leewaySeconds));
  // A key set that is not JSON is refused next to its field, linked to it.
  const jwks = dialog.getByLabel('Replace the pinned key set (JWKS, optional)');
  await jwks.fill('{"keys": [');
  await dialog.getByRole('button', { name: 'Save issuer' }).click();
  await page.locator('#issuer-edit-jwks[aria-invalid="true"]').waitFor();
  assert.match(await jwks.getAttribute('aria-describedby'), /issuer-edit-jwks-error/);
  assert.equal((await ok(page, 'GET', `/v1/admin/issuers/${made.id}`)).audience, AUD, 'nothing was sent');
  await jwks.fill(JSON.stringify(newKey.jwks));
  await dialog.getByLabel('Audience').fill('signet-billing');
  await dialog.getByLabel('Clock leeway (seconds)').fill('30');
  await dialog.getByRole('button', { name: 'Save issuer' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.locator('#status', { hasText: 'Issuer ci two saved' }).waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'issuer-edit');
  assert.match(await page.locator('main').textContent(), /signet-billing/, 'the page shows the new audience');
  const stored = await ok(page, 'GET', `/v1/admin/issuers/${made.id}`);
  assert.deepEqual([stored.audience, stored.leewaySeconds, stored.pinned], ['signet-billing', 30, true]);

  // What the edit means for a workload: the old key or the old audience enrolls nothing; a token
  // signed with the new key for the new audience does.
  const vaultId = (await ok(page, 'GET', '/v1/admin/vault')).vaultId;
  const tokenFile = join(server.root, 'token2.jwt');
  const enroll = (name) => signet(server.home(name), ['--json', 'enroll', '--server', server.url, '--vault', vaultId, '--oidc-token', tokenFile, '--name', name]);
  const claims = { iss: iss2, sub: 'repo:acme/billing', repository: 'acme/billing' };
  writeFileSync(tokenFile, mint(oldKey.privateKey, { ...claims, aud: 'signet-billing' }));
  assert.notEqual((await enroll('old-key')).code, 0, 'the replaced key no longer enrolls');
  writeFileSync(tokenFile, mint(newKey.privateKey, claims));
  assert.notEqual((await enroll('old-aud')).code, 0, 'the old audience no longer enrolls');
  writeFileSync(tokenFile, mint(newKey.privateKey, { ...claims, aud: 'signet-billing' }));
  const joined = await enroll('new-key');
  assert.equal(joined.code, 0, joined.stderr);
  assert.equal(JSON.parse(joined.stdout).status, 'approved');
  assert.deepEqual(page.problems, []);
});
