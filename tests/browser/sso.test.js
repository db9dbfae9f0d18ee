// Issue 14 §3, people's single sign-on through a real OpenID provider (tests/oidc: the
// `oidc-provider` package on Node) in a real Chromium and from the real CLI: a just-in-time user
// with the mapped role, a viewer without admin actions; a tampered state, a replayed callback, a
// replayed code under a fresh state, a code issued to another client and a callback finished in
// another browser all refused alike, with the audit naming why; an ended provider session asks
// for the provider's form again; step-up stays Signet's unless the vault trusts the provider's
// second factor; `signet login --sso` through the CLI's loopback page, and a phished authorize
// URL that registers nothing; sso_required with the break-glass owner.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import {
  startServer, launch, newPage, setupOwner, login, pageFetch, createUser, go, freshTotp, signet, BIN,
  SSO_SERVER_CONFIG, startSsoProvider, trustSsoProvider, ssoSignIn, providerForm, signedIn,
} from './harness.js';
import { signInOverHttp } from '../oidc/start.mjs';

const IDP = 'Acme IdP';
const CARD = (who) => ({ username: who, password: `${who}-provider-password` });
// Carol and Dana are admins by group; Dana's provider asserts a second factor. Victor is a viewer;
// Nora is in no mapped group.
const carol = { ...CARD('carol'), sub: 'sub-carol', groups: ['staff', 'signet-admins'] };
const dana = { ...CARD('dana'), sub: 'sub-dana', groups: ['signet-admins'], amr: ['pwd', 'otp'] };
const victor = { ...CARD('victor'), groups: ['signet-viewers'] };
const nora = { ...CARD('nora'), groups: ['contractors'] };
const OTHER_CLIENT = { client_id: 'other-app', client_secret: 'other-app-secret-93be1c0f72', redirect_uris: [] };

let server;
let browser;
let idp;
let ownerPage;
let owner;
let project;
let provider;

before(async () => {
  server = await startServer({ config: SSO_SERVER_CONFIG });
  browser = await launch();
  // Another relying party at the same provider, allowed to send its codes to Signet's callback
  // (an attacker registering someone else's redirect URI is the worst case for code injection).
  OTHER_CLIENT.redirect_uris = [`${server.url}/v1/auth/sso/callback`];
  idp = await startSsoProvider(server, { accounts: [carol, dana, victor, nora], clients: [OTHER_CLIENT] });
  ownerPage = await newPage(browser);
  owner = await setupOwner(ownerPage, server);
  await login(ownerPage, server, owner);
  const made = await pageFetch(ownerPage, 'POST', '/v1/admin/projects', { name: 'payments' });
  assert.equal(made.status, 200, made.text);
  project = made.json.id;
  provider = await trustSsoProvider(ownerPage, idp, {
    name: IDP,
    mappings: [
      { claim: 'groups', value: 'signet-admins', role: 'admin' },
      { claim: 'groups', value: 'signet-viewers', role: 'viewer' },
    ],
  });
  assert.equal(provider.redirectUri, `${server.url}/v1/auth/sso/callback`);
});

after(async () => {
  await browser?.close();
  await idp?.stop();
  await server?.stop();
});

/** The owner's page again confirms a second factor (the sign-in's own lasts five minutes). */
async function ownerStepUp() {
  const r = await pageFetch(ownerPage, 'POST', '/v1/auth/step-up', { totp: await freshTotp(owner.totpSecret) });
  assert.equal(r.status, 200, `owner step-up: ${r.text}`);
}

/** Changes vault settings from the owner's page (after `ownerStepUp`). */
async function vaultSettings(body) {
  const r = await pageFetch(ownerPage, 'POST', '/v1/admin/vault/settings', body);
  assert.equal(r.status, 200, `vault settings ${JSON.stringify(body)}: ${r.text}`);
  return r.json;
}

/** Audit records of `action` (newest first) from the owner's page. */
async function audit(action, result) {
  const r = await pageFetch(ownerPage, 'POST', '/v1/admin/audit/query', { action, ...(result ? { result } : {}), limit: 500 });
  assert.equal(r.status, 200, r.text);
  return r.json.records;
}

const overview = (page) => page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
const isCallback = (u) => u.pathname === '/v1/auth/sso/callback';

/**
 * Starts an SSO attempt over HTTP as `page`'s browser would by clicking the button, and hands the
 * binding cookie Signet set to the page's context; resolves with the provider's authorization
 * URL. (Chromium does not let a test hold back a redirect, so the attacks below build their
 * callbacks this way; the first test shows the path signs in when nothing is tampered with.)
 */
async function startAttempt(page) {
  const res = await fetch(`${server.url}/v1/auth/sso/${provider.id}/start`, { redirect: 'manual' });
  assert.ok([302, 303].includes(res.status), `start: ${res.status}`);
  const set = res.headers.getSetCookie().find((c) => c.startsWith('signet_sso='));
  assert.ok(set, 'no binding cookie');
  assert.match(set, /HttpOnly/i);
  assert.match(set, /SameSite=Lax/i);
  assert.match(set, /Path=\/v1\/auth\/sso(;|$)/i);
  const value = set.split(';')[0].slice('signet_sso='.length);
  await page.context().addCookies([{ name: 'signet_sso', value, domain: 'localhost', path: '/v1/auth/sso', httpOnly: true, sameSite: 'Lax' }]);
  const authorize = res.headers.get('location');
  assert.ok(authorize.startsWith(`${idp.issuer}/auth?`), authorize);
  return authorize;
}

/** The person at the provider over HTTP: Signet's callback URL, unfollowed. */
async function atProvider(authorize, who) {
  const r = await signInOverHttp(idp.issuer, authorize, who);
  assert.ok(r.callback, `the provider did not redirect back: ${r.status} ${r.html}`);
  return r.callback.href;
}

/** The next callback URL the page's browser sends (and the server answers). */
function seeCallback(page) {
  return page.waitForRequest((r) => isCallback(new URL(r.url()))).then((r) => r.url());
}

/** A refused SSO sign-in: back on the sign-in page with the one generic message, not signed in. */
async function expectRefused(page, what) {
  await page.locator('#sso-failed', { hasText: 'Single sign-on did not complete.' }).waitFor();
  assert.match(page.url(), /#\/login\?sso=failed$/, what);
  assert.equal(await signedIn(page), false, `${what}: signed in anyway`);
}

function withParam(url, name, value) {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.href;
}

test('sign in with SSO: a just-in-time admin with the mapped role, a viewer without admin actions', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/#/login`);
  const button = page.getByRole('link', { name: `Sign in with ${IDP}` });
  assert.equal(await button.getAttribute('href'), `/v1/auth/sso/${provider.id}/start`);
  await ssoSignIn(page, server, IDP, carol);
  await overview(page);
  assert.ok(await signedIn(page));
  assert.equal((await page.locator('.who-name').textContent()).trim(), 'carol');
  assert.equal((await page.locator('.who-name + .badge').textContent()).trim(), 'admin');
  assert.equal(new URL(page.url()).origin, server.url, 'the dashboard, not the provider');

  // The owner sees the new user with the mapped role; the identity is linked (sub, not name).
  await go(ownerPage, 'Users');
  const row = ownerPage.locator('tr', { hasText: 'carol' });
  await row.waitFor();
  assert.ok(await row.getByText('admin', { exact: true }).isVisible());
  const users = (await pageFetch(ownerPage, 'GET', '/v1/admin/users')).json.users;
  const made = users.find((u) => u.username === 'carol');
  assert.equal(made.role, 'admin');
  assert.equal(made.email, 'carol@example.test', 'a verified email is taken');
  const mine = await pageFetch(page, 'GET', '/v1/admin/account/sso');
  assert.equal(mine.status, 200, mine.text);
  assert.deepEqual(mine.json.identities.map((i) => [i.providerName, i.subject]), [[IDP, 'sub-carol']]);
  assert.equal((await audit('sso_user_create', 'ok')).length, 1);
  assert.ok((await audit('sso_login', 'ok')).length >= 1);
  // A JIT user has no password: the password form refuses her like any wrong password.
  const pw = await pageFetch(page, 'POST', '/v1/auth/session', { login: 'carol', password: carol.password, totp: '000000' }, { csrf: false });
  assert.equal(pw.status, 401, pw.text);

  // A viewer: signed in, no admin pages in the navigation, and the API refuses writes.
  const vpage = await newPage(browser);
  await ssoSignIn(vpage, server, IDP, victor);
  await overview(vpage);
  assert.equal((await vpage.locator('.who-name').textContent()).trim(), 'victor');
  const nav = vpage.getByRole('navigation');
  for (const name of ['Users', 'Alerts', 'Single sign-on', 'Share']) {
    assert.equal(await nav.getByRole('link', { name, exact: true }).count(), 0, `a viewer is offered ${name}`);
  }
  const write = await pageFetch(vpage, 'POST', '/v1/admin/projects', { name: 'viewer-made' });
  assert.equal(write.status, 403, write.text);
  assert.equal(write.json.code, 'access_denied');

  // Nobody mapped: refused, the generic message, no user made.
  const npage = await newPage(browser);
  await ssoSignIn(npage, server, IDP, nora);
  await expectRefused(npage, 'an unmapped person');
  const after = (await pageFetch(ownerPage, 'GET', '/v1/admin/users')).json.users.map((u) => u.username);
  assert.ok(!after.includes('nora'), 'an unmapped person got a user');
  assert.ok((await audit('sso_login', 'denied')).some((r) => r.detail.includes('sso_no_mapping')));
  for (const p of [page, vpage, npage]) assert.deepEqual(p.problems, []);
});

test('a tampered state, a replayed callback, a replayed code, a code for another client and another browser are refused alike', async () => {
  // The control: an attempt started and finished over HTTP, its binding cookie in Chromium, and
  // the untouched callback opened there signs in.
  const p = await newPage(browser);
  const control = await atProvider(await startAttempt(p), carol);
  await p.goto(control);
  await overview(p);

  // A genuine sign-in in Chromium, its callback URL noted on the way.
  const a = await newPage(browser);
  const seen = seeCallback(a);
  await ssoSignIn(a, server, IDP, carol);
  const genuine = await seen;
  await overview(a);
  const genuineCode = new URL(genuine).searchParams.get('code');
  assert.ok(genuineCode);

  // Wrong state: the browser's own callback with the state changed.
  const w = await newPage(browser);
  const own = await atProvider(await startAttempt(w), carol);
  await w.goto(withParam(own, 'state', randomBytes(32).toString('base64url')));
  await expectRefused(w, 'a wrong state');

  // The genuine callback replayed, by the same browser once signed out and by another.
  await a.getByRole('button', { name: 'Sign out' }).click();
  await a.getByRole('heading', { name: 'Sign in' }).waitFor();
  await a.goto(genuine);
  await expectRefused(a, 'a replayed callback');
  const other = await newPage(browser);
  await other.goto(genuine);
  await expectRefused(other, 'a replayed callback in another browser');

  // The used code under a fresh attempt's state, in the browser that started that attempt.
  const b = await newPage(browser);
  const fresh = await atProvider(await startAttempt(b), carol);
  await b.goto(withParam(fresh, 'code', genuineCode));
  await expectRefused(b, 'a replayed code with a fresh state');

  // A code the provider issued to another client, delivered under this browser's own state.
  const c = await newPage(browser);
  const state = new URL(await startAttempt(c)).searchParams.get('state');
  const verifier = randomBytes(32).toString('base64url');
  const foreign = new URL(`${idp.issuer}/auth`);
  foreign.search = new URLSearchParams({
    response_type: 'code', client_id: OTHER_CLIENT.client_id, redirect_uri: `${server.url}/v1/auth/sso/callback`,
    scope: 'openid', state, nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  });
  const foreignCallback = await atProvider(foreign.href, carol);
  assert.equal(new URL(foreignCallback).searchParams.get('state'), state);
  await c.goto(foreignCallback);
  await expectRefused(c, 'a code for another client');

  // A callback finished in a browser that did not start the attempt (no binding cookie).
  const x = await newPage(browser);
  const stolen = await atProvider(await startAttempt(x), carol);
  const y = await newPage(browser);
  await y.goto(stolen);
  await expectRefused(y, 'a callback in another browser');

  // Each refusal is audited with its reason; no code or state reaches the audit or the log.
  const denied = await audit('sso_login', 'denied');
  const details = denied.map((r) => r.detail).join('\n');
  for (const reason of ['sso_unknown_state', 'sso_code_refused', 'sso_browser_mismatch']) {
    assert.ok(details.includes(reason), `no sso_login denial with ${reason}:\n${details}`);
  }
  for (const url of [control, genuine, own, fresh, stolen, foreignCallback]) {
    const u = new URL(url);
    for (const v of [u.searchParams.get('code'), u.searchParams.get('state')]) {
      assert.ok(!details.includes(v), 'a code or state in the audit');
      assert.ok(!server.log.includes(v), 'a code or state in the server log');
    }
  }
  for (const page of [p, a, w, other, b, c, x, y]) assert.deepEqual(page.problems, []);
});

test('an ended session at the provider: the next SSO sign-in shows the provider form again', async () => {
  const page = await newPage(browser);
  const interactions = [];
  page.on('request', (r) => { if (r.url().startsWith(`${idp.issuer}/interaction/`)) interactions.push(r.url()); });
  await ssoSignIn(page, server, IDP, dana);
  await overview(page);
  assert.ok(interactions.length > 0, 'the first sign-in showed the form');

  // Signed out of Signet only: the provider's session signs in again without its form.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  interactions.length = 0;
  await ssoSignIn(page, server, IDP, dana, { fill: false });
  await overview(page);
  assert.deepEqual(interactions, [], 'the live provider session skipped the form');

  // The provider's sessions end: the same button now stops at the provider's form.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.ok((await idp.endSessions()) >= 1);
  await ssoSignIn(page, server, IDP, dana, { fill: false });
  await page.waitForURL((u) => u.origin === idp.issuer);
  await page.locator('input[name="password"]').waitFor();
  assert.ok(interactions.length > 0, 'the provider asks again');
  await providerForm(page, dana);
  await overview(page);
  assert.deepEqual(page.problems, []);
});

test('step-up: Signet asks for its own second factor unless the vault trusts the provider\'s', async () => {
  const issue = (page) => pageFetch(page, 'POST', '/v1/admin/tokens/enrollment', { projectIds: [project] });

  // Not trusted (the default): even an amr with otp leaves the SSO session without step-up.
  const d = await newPage(browser);
  await ssoSignIn(d, server, IDP, dana);
  await overview(d);
  const refused = await issue(d);
  assert.equal(refused.status, 403, refused.text);
  assert.equal(refused.json.code, 'step_up_required');
  // The dashboard asks for a second factor for it; Dana has none at Signet yet.
  await go(d, 'Tokens');
  await d.getByRole('button', { name: 'Issue bootstrap token' }).click();
  const dialog = d.locator('#step-up');
  await dialog.getByText('Add an authenticator app or a passkey').waitFor();
  assert.equal(await dialog.getByRole('link', { name: `Confirm with ${IDP}` }).count(), 0, 'the provider is offered while not trusted');

  // Trusted: Dana's provider asserted otp just now, so her new session needs no more.
  await ownerStepUp();
  const settings = await vaultSettings({ ssoTrustProviderMfa: true });
  assert.equal(settings.ssoTrustProviderMfa, true);
  const d2 = await newPage(browser);
  await ssoSignIn(d2, server, IDP, dana);
  await overview(d2);
  const issued = await issue(d2);
  assert.equal(issued.status, 200, issued.text);

  // Carol's provider asserted only a password: still asked.
  const c = await newPage(browser);
  await ssoSignIn(c, server, IDP, carol);
  await overview(c);
  const still = await issue(c);
  assert.equal(still.status, 403, still.text);
  assert.equal(still.json.code, 'step_up_required');

  // Her step-up through the provider (its form again, prompt=login) still lacks a second factor.
  await go(c, 'Tokens');
  await c.getByRole('button', { name: 'Issue bootstrap token' }).click();
  await c.locator('#step-up').getByRole('link', { name: `Confirm with ${IDP}` }).click();
  await providerForm(c, carol); // prompt=login: the form even with a live provider session
  await c.waitForURL((u) => u.origin === server.url);
  await c.getByText('Single sign-on did not complete.').first().waitFor();
  assert.ok(await signedIn(c), 'a refused step-up ended the session');
  assert.equal((await issue(c)).status, 403);
  const denials = (await audit('sso_step_up', 'denied')).concat(await audit('sso_login', 'denied'));
  assert.ok(denials.some((r) => r.detail.includes('sso_no_second_factor')), JSON.stringify(denials.map((r) => r.detail)));

  await vaultSettings({ ssoTrustProviderMfa: false });
  for (const p of [d, d2, c]) assert.deepEqual(p.problems, []);
});

/** `signet --json login --sso NAME --no-browser` in `home`: the child and the URL it printed. */
async function cliSsoLogin(home) {
  const env = { ...process.env, SIGNET_HOME: home };
  delete env.SIGNET_IDENTITY;
  delete env.SIGNET_OPERATOR_IDENTITY;
  const child = spawn(BIN, ['--json', 'login', '--server', server.url, '--sso', IDP, '--no-browser'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s) => { stdout += s; });
  child.stderr.setEncoding('utf8');
  const exited = new Promise((ok) => child.on('exit', (code) => ok(code)));
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no sign-in URL from signet login --sso:\n${stderr}`)), 30000);
    child.stderr.on('data', (s) => {
      stderr += s;
      const m = stderr.match(/Open this URL to sign in: (\S+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    exited.then((code) => { clearTimeout(timer); fail(new Error(`signet login --sso exited ${code}:\n${stderr}`)); });
  });
  return { child, url, exited, out: () => stdout, err: () => stderr };
}

test('signet login --sso: the browser signs in at the provider, the CLI\'s loopback page finishes, and its key signs', async () => {
  const home = server.home('carol-cli');
  const cli = await cliSsoLogin(home);
  assert.ok(cli.url.startsWith(`${idp.issuer}/auth?`), cli.url);
  const page = await newPage(browser);
  await page.goto(cli.url);
  await providerForm(page, carol);
  await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
  assert.match(await page.locator('body').textContent(), /terminal/i);
  const code = await cli.exited;
  assert.equal(code, 0, `signet login --sso: ${cli.err()}`);
  const me = await signet(home, ['--json', 'operator', 'whoami']);
  assert.equal(me.code, 0, me.stderr);
  const who = JSON.parse(me.stdout);
  const carolId = (await pageFetch(ownerPage, 'GET', '/v1/admin/users')).json.users.find((u) => u.username === 'carol').id;
  assert.equal(who.role, 'admin', me.stdout);
  assert.equal(who.userId, carolId, me.stdout);
  const made = await signet(home, ['--json', 'project', 'create', 'from-sso-cli']);
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await audit('sso_cli_login', 'ok')).length, 1);
  assert.deepEqual(page.problems, []);
});

test('a phished authorize URL finished while the CLI is not listening registers nothing', async () => {
  const before = (await audit('sso_cli_login', 'ok')).length;
  const attackerHome = server.home('attacker-cli');
  const cli = await cliSsoLogin(attackerHome);
  cli.child.kill('SIGKILL'); // the attacker only wanted the URL; nothing listens on its port now
  await cli.exited;

  // The victim finishes it in their browser: Signet sends the completion code to the VICTIM's
  // loopback address, where nothing answers.
  const victim = await newPage(browser);
  const loopback = victim.waitForRequest((r) => /^http:\/\/127\.0\.0\.1:\d+\/callback\?/.test(r.url()));
  await victim.goto(cli.url);
  await providerForm(victim, dana);
  const sent = new URL((await loopback).url());
  const attempt = sent.searchParams.get('attempt');
  assert.ok(attempt && sent.searchParams.get('code'), sent.href);

  // The attacker has the attempt id but not the code: finishing is the uniform 401.
  const r = await fetch(`${server.url}/v1/auth/sso/cli/finish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ attemptId: attempt, completionCode: randomBytes(32).toString('base64url'), signature: Buffer.alloc(64).toString('base64') }),
  });
  assert.equal(r.status, 401);
  assert.equal((await audit('sso_cli_login', 'ok')).length, before, 'a key was registered');
  const me = await signet(attackerHome, ['--json', 'operator', 'whoami']);
  assert.notEqual(me.code, 0, 'the attacker\'s CLI holds a working key');
});

test('sso_required: passwords are refused with the SSO message except for the break-glass owner', async () => {
  await ownerStepUp();
  const erin = await createUser(ownerPage, { username: 'erin', email: 'erin@example.com', password: 'erin-password-long-enough', role: 'developer' });
  const glass = await vaultSettings({ breakGlassUser: owner.username });
  assert.ok(glass.breakGlassUser, JSON.stringify(glass));
  const settings = await vaultSettings({ ssoRequired: true });
  assert.equal(settings.ssoRequired, true);

  const page = await newPage(browser);
  await page.goto(`${server.url}/#/login`);
  await page.getByRole('link', { name: `Sign in with ${IDP}` }).waitFor();
  await page.getByText('Break-glass sign-in').click();
  await page.getByLabel('Username or email').fill(erin.username);
  await page.getByLabel('Password').fill(erin.password);
  await page.getByLabel('Authenticator code').fill(await freshTotp(erin.totpSecret));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  // Whatever the page says is in the failure message, so a flake names its cause.
  await page.waitForFunction(() => document.querySelector('#login-error')?.textContent || !location.hash.startsWith('#/login'));
  assert.equal(await page.locator('#login-error').textContent(), 'This vault requires single sign-on.', `at ${page.url()}`);
  assert.equal(await signedIn(page), false);
  const refusals = await audit(undefined, 'denied');
  assert.ok(refusals.some((r) => r.detail.includes('sso_required')), 'no denial names sso_required');

  // The break-glass owner still signs in with password and TOTP.
  await page.getByLabel('Username or email').fill(owner.username);
  await page.getByLabel('Password').fill(owner.password);
  await page.getByLabel('Authenticator code').fill(await freshTotp(owner.totpSecret));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await overview(page);

  // SSO itself still works.
  const c = await newPage(browser);
  await ssoSignIn(c, server, IDP, carol);
  await overview(c);
  for (const p of [page, c]) assert.deepEqual(p.problems, []);
});
