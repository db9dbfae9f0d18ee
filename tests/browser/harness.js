// Real processes for the browser tests: a `signet server` on a free port with its own data folder,
// headless Chromium through playwright-core, and the `signet` CLI with its own SIGNET_HOME.

import { spawn, execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { totp, secretFromUri } from './totp.js';
import { startProvider } from '../oidc/start.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../..');
export const BIN = process.env.SIGNET_BIN || resolve(here, '../../target/debug/signet');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/**
 * The storage every server in this run uses: `sqlite` (default, the data folder's file) or
 * `postgres` (SIGNET_TEST_BACKEND=postgres: a fresh database per server on SIGNET_TEST_PG_URL,
 * default postgres://postgres@127.0.0.1:5432/test). The suite runs once per backend.
 */
export const BACKEND = process.env.SIGNET_TEST_BACKEND || 'sqlite';
const PG_ADMIN = process.env.SIGNET_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** For PostgreSQL: a fresh database, a root key file and a config naming both, in `root`. */
function postgresConfig(root) {
  const name = `signet_browser_${randomBytes(6).toString('hex')}`;
  execFileSync('psql', [PG_ADMIN, '-qc', `CREATE DATABASE ${name}`]);
  const key = join(root, 'root.key');
  writeFileSync(key, randomBytes(32).toString('hex'), { mode: 0o600 });
  const config = join(root, 'signet.toml');
  const base = PG_ADMIN.slice(0, PG_ADMIN.lastIndexOf('/'));
  writeFileSync(config, `database_url = "${base}/${name}"\nroot_key_file = "${key}"\n`, { mode: 0o600 });
  const drop = () => execFileSync('psql', [PG_ADMIN, '-qc', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
  return { args: ['--config', config], drop };
}

/**
 * Starts a fresh server; resolves once it listens, with the setup link it printed. `config`:
 * extra lines for its config file (`oidc_allow_cidrs = [...]` for the SSO tests).
 */
export async function startServer({ config = '' } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'signet-browser-'));
  const env = { ...process.env, SIGNET_LOG: 'info' };
  delete env.SIGNET_CONFIG;
  let port;
  let url;
  let storage;
  let child;
  let log = '';
  let setupUrl = null;
  // freePort's port was free when it answered, not necessarily when the server binds it (another
  // file's server, or any outgoing connection, may take it in between); and on a loaded machine
  // PostgreSQL may not answer the server's first connection within its 2 s. A server that could
  // not start for either reason is started again, from scratch, on another port.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    url = `http://localhost:${port}`;
    storage = BACKEND === 'postgres' ? postgresConfig(root) : { args: [], drop: () => {} };
    if (config) {
      const file = storage.args[1] ?? join(root, 'signet.toml');
      const before = storage.args.length ? readFileSync(file, 'utf8') : '';
      writeFileSync(file, `${before}${config.endsWith('\n') ? config : `${config}\n`}`, { mode: 0o600 });
      storage.args = ['--config', file];
    }
    child = spawn(BIN, ['server', '--data-dir', join(root, 'data'), '--listen', `127.0.0.1:${port}`, '--api-url', url, ...storage.args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    log = '';
    setupUrl = null;
    const started = child;
    try {
      await new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`server did not start:\n${log}`)), 60000);
        started.stderr.setEncoding('utf8');
        started.stderr.on('data', (chunk) => {
          log += chunk;
          const m = log.match(/(https?:\/\/\S+\/#\/setup\/[A-Za-z0-9_-]+)/);
          if (m) setupUrl = m[1];
          if (log.includes('signet: listening on')) {
            clearTimeout(timer);
            ok();
          }
        });
        started.on('exit', (code) => { clearTimeout(timer); fail(new Error(`server exited ${code}:\n${log}`)); });
      });
      break;
    } catch (e) {
      if (attempt >= 3 || !/Address already in use|postgres did not answer in time/.test(log)) throw e;
      storage.drop();
      rmSync(join(root, 'data'), { recursive: true, force: true });
      if (config && BACKEND !== 'postgres') rmSync(join(root, 'signet.toml'), { force: true });
    }
  }
  // The link may come a line or two after the listening line.
  for (let i = 0; i < 40 && !setupUrl; i++) await sleep(50);
  child.removeAllListeners('exit');
  return {
    url,
    port,
    root,
    dataDir: join(root, 'data'),
    get setupUrl() { return setupUrl; },
    get log() { return log; },
    home: (name) => join(root, `home-${name}`),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((ok) => { child.once('exit', ok); setTimeout(ok, 5000); });
      }
      rmSync(root, { recursive: true, force: true });
      storage.drop();
    },
  };
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/** Runs the CLI with SIGNET_HOME=home; resolves with {code, stdout, stderr}. */
export function signet(home, args, { timeout = 60000 } = {}) {
  return new Promise((ok) => {
    const env = { ...process.env, SIGNET_HOME: home };
    delete env.SIGNET_IDENTITY;
    delete env.SIGNET_OPERATOR_IDENTITY;
    execFile(BIN, args, { env, timeout }, (err, stdout, stderr) => {
      ok({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A machine's identity file under a CLI home. */
export function machineIdentity(home) {
  const vaults = join(home, 'vaults');
  const dir = readdirSync(vaults)[0];
  return JSON.parse(readFileSync(join(vaults, dir, 'identity.json'), 'utf8'));
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A page that fails the test on any uncaught error or CSP violation in the app. */
export async function newPage(browser, { width = 1280, height = 860 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  // Playwright's 30 s default for each wait and action is too tight on a loaded 2-core machine
  // (a debug server hashing a new owner's password and recovery codes beside three other test
  // files was seen to take longer); 60 s still fails a hung page well inside the file's timeout.
  context.setDefaultTimeout(60000);
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => { page.problems.push(`dialog: ${d.type()} ${d.message()}`); d.dismiss().catch(() => {}); });
  return page;
}

/**
 * TOTP codes, never the same step twice for one secret: the server accepts only a step after the
 * last it accepted. It also takes the next step's code (one step of clock skew, TOTP_SKEW in
 * crates/core/src/account.rs), so a second code within one 30 s step is the next step's, at
 * once; only a third within the step waits for it to turn. (Waiting out the step for every
 * second code, a sign-in then a step-up, cost a test up to 30 s each time.)
 */
const lastStep = new Map();
export async function freshTotp(secret) {
  for (;;) {
    const now = Math.floor(Date.now() / 30000);
    const step = Math.max(now, (lastStep.get(secret) ?? now - 1) + 1);
    if (step <= now + 1) {
      lastStep.set(secret, step);
      return totp(secret, step * 30000);
    }
    await sleep(30000 - (Date.now() % 30000) + 50);
  }
}

/** First-run setup through the browser; returns the owner's credentials. */
export async function setupOwner(page, server, { username = 'alice', email = 'alice@example.com', password = 'correct horse battery staple' } = {}) {
  if (!server.setupUrl) throw new Error(`no setup link in the server log:\n${server.log}`);
  await page.goto(server.setupUrl.replace(/^https?:\/\/[^/]+/, server.url));
  // The page before (sign-in, say) stays while the server checks the setup code: wait for the
  // setup form itself, or its Username would be typed into the sign-in form's.
  await page.getByRole('button', { name: 'Create owner account' }).waitFor();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Repeat password').fill(password);
  await page.getByRole('button', { name: 'Create owner account' }).click();
  await page.locator('#recovery-codes li').first().waitFor();
  const codes = await page.locator('#recovery-codes li').allTextContents();
  const uri = await page.locator('code').first().textContent();
  return { username, email, password, totpSecret: secretFromUri(uri), recoveryCodes: codes, otpauthUri: uri };
}

/**
 * Confirms the enrollment page's pending authenticator with a fresh code from `who`'s secret
 * (the new account's page, after setupOwner or an accepted invitation); returns the code. The
 * page then offers to continue, signed in.
 */
export async function confirmEnrollment(page, who) {
  const code = await freshTotp(who.totpSecret);
  await page.getByLabel('Code from your authenticator app').fill(code);
  await page.getByRole('button', { name: 'Confirm code' }).click();
  await page.locator('#enroll-confirmed').waitFor();
  return code;
}

/** Signs in through the login form with password and a fresh TOTP code; returns the code. */
export async function login(page, server, who, { login = who.username } = {}) {
  await page.goto(`${server.url}/#/login`);
  await page.getByLabel('Username or email').fill(login);
  await page.getByLabel('Password').fill(who.password);
  const code = await freshTotp(who.totpSecret);
  await page.getByLabel('Authenticator code').fill(code);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  return code;
}

/** The cookie a browser context holds for the server, as a Cookie header. */
export async function cookieHeader(page) {
  const cookies = await page.context().cookies();
  return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
}

/** A fetch run inside the page, so it carries the session cookie, Origin and Sec-Fetch-Site. */
export function pageFetch(page, method, path, body, { csrf = true } = {}) {
  return page.evaluate(async ({ method, path, body, csrf }) => {
    const headers = { Accept: 'application/json' };
    if (method === 'POST') headers['Content-Type'] = 'application/json';
    if (csrf) {
      const s = await fetch('/v1/auth/session', { credentials: 'same-origin' });
      if (s.ok) headers['X-CSRF-Token'] = (await s.json()).csrfToken;
    }
    const r = await fetch(path, { method, headers, credentials: 'same-origin', body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, json, text };
  }, { method, path, body, csrf });
}

/** `pageFetch` that must answer 200; returns the JSON, or throws naming the route and the answer. */
export async function ok(page, method, path, body) {
  const r = await pageFetch(page, method, path, body);
  if (r.status !== 200) throw new Error(`${method} ${path}: expected 200, got ${r.status}: ${r.text}`);
  return r.json;
}

/**
 * A real machine for a test: `signet enroll` with a bootstrap token into its own CLI home
 * (`server.home(home)`), approved by the fingerprint it printed, attached to `projectId` and
 * granted `secretIds`, all from an owner's signed-in page. Resolves with `{ home, machine }`
 * (the CLI home to run `signet get` in, and the machine's id).
 */
export async function enrollMachine(page, server, { projectId, secretIds, name = 'web-1', home = 'machine' }) {
  const { token } = await ok(page, 'POST', '/v1/admin/tokens/bootstrap', {});
  const dir = server.home(home);
  const enrolled = await signet(dir, ['--json', 'enroll', '--server', server.url, '--token', token, '--name', name]);
  if (enrolled.code !== 0) throw new Error(`signet enroll exited ${enrolled.code}: ${enrolled.stderr}`);
  const machine = machineIdentity(dir).machineId;
  const { fingerprint } = JSON.parse(enrolled.stdout);
  await ok(page, 'POST', `/v1/admin/machines/${machine}/approve`, { fingerprint });
  await ok(page, 'POST', `/v1/admin/machines/${machine}/attach`, { projectId });
  await ok(page, 'POST', `/v1/admin/machines/${machine}/grant`, { secretIds });
  return { home: dir, machine };
}

/** Whether the server has a route yet (the backend lands in parts): anything but 404/405. */
export async function hasRoute(url, method, path) {
  const r = await fetch(url + path, { method, headers: { 'Content-Type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
  return r.status !== 404 && r.status !== 405;
}

/** Creates a user with a role from an owner's page; returns credentials with the TOTP secret. */
export async function createUser(page, { username, email, password, role }) {
  const r = await pageFetch(page, 'POST', '/v1/admin/users', { username, email, password, role });
  if (r.status !== 200) throw new Error(`create user: ${r.status} ${r.text}`);
  return { username, email, password, role, id: r.json.user.id, totpSecret: secretFromUri(r.json.otpauthUri) };
}

// Opens a page from the navigation and waits until that page has rendered: the previous page's
// form fields must not be filled by mistake while the new one is still loading its data.
export async function go(page, name) {
  await page.getByRole('navigation').getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { name, level: 1, exact: true }).waitFor();
}

// --- Single sign-on: the test OpenID provider (tests/oidc) and a Signet server trusting it. ---

/** The config lines a server needs to reach the test provider on loopback. */
export const SSO_SERVER_CONFIG = 'oidc_allow_cidrs = ["127.0.0.0/8"]';
export const SSO_CLIENT_ID = 'signet-browser';
export const SSO_CLIENT_SECRET = 'sso-client-secret-4c1f9a7e2b6d8035';

/**
 * Starts the test OpenID provider (tests/oidc/provider.mjs) with `accounts` (username,
 * password, groups, amr, ...) and Signet's client registered with the server's one redirect URI,
 * plus any `clients` more. Resolves with `{issuer, endSessions(), stop(), log()}`.
 */
export async function startSsoProvider(server, { accounts, clients = [], sessionTtlSeconds } = {}) {
  return startProvider({
    clients: [
      { client_id: SSO_CLIENT_ID, client_secret: SSO_CLIENT_SECRET, redirect_uris: [`${server.url}/v1/auth/sso/callback`] },
      ...clients,
    ],
    accounts: accounts.map((a) => ({ email: `${a.username}@example.test`, email_verified: true, name: a.username, groups: [], ...a })),
    ...(sessionTtlSeconds ? { sessionTtlSeconds } : {}),
  });
}

/**
 * Trusts the provider in the server from an owner's signed-in page (the admin API, as the
 * dashboard's Single sign-on page sends it) with `mappings` ({claim, value, role, projectIds});
 * resolves with the provider's answer (its `id`, `redirectUri`, ...).
 */
export async function trustSsoProvider(page, idp, { name = 'Test IdP', jit = true, mappings = [], clientId = SSO_CLIENT_ID, clientSecret = SSO_CLIENT_SECRET } = {}) {
  const made = await pageFetch(page, 'POST', '/v1/admin/sso/providers', {
    name, issuer: idp.issuer, clientId, clientSecret, jitUsers: jit,
  });
  if (made.status !== 200) throw new Error(`add SSO provider: ${made.status} ${made.text}`);
  let answer = made.json;
  for (const m of mappings) {
    const r = await pageFetch(page, 'POST', `/v1/admin/sso/providers/${answer.id}/mappings`, { projectIds: [], ...m });
    if (r.status !== 200) throw new Error(`add SSO mapping: ${r.status} ${r.text}`);
    answer = r.json;
  }
  return answer;
}

/**
 * The dashboard's SSO button on the sign-in page, then the provider's own form: the page ends
 * wherever Signet sends it (call `waitFor` on what you expect). `fill: false` when the provider
 * should not ask (its session is alive).
 */
export async function ssoSignIn(page, server, providerName, who, { fill = true } = {}) {
  await page.goto(`${server.url}/#/login`);
  await page.getByRole('link', { name: `Sign in with ${providerName}` }).click();
  if (fill) await providerForm(page, who);
}

/** The test provider's login form (tests/oidc/provider.mjs), filled and sent. */
export async function providerForm(page, who) {
  const form = page.locator('form[action*="/interaction/"][action$="/login"]');
  await form.locator('input[name="username"]').fill(who.username);
  await form.locator('input[name="password"]').fill(who.password);
  await form.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Whether the page's context holds a live Signet session. */
export async function signedIn(page) {
  const r = await pageFetch(page, 'GET', '/v1/auth/session', undefined, { csrf: false });
  return r.status === 200;
}

// --- Accessibility: axe-core (tests/browser/package.json) in the page under test. ---

/**
 * Loads axe-core into every document of the page's context. Through CDP
 * (`Page.addScriptToEvaluateOnNewDocument`), so the dashboard's CSP, which allows no inline or
 * foreign script, does not block it; the app itself is unchanged.
 */
export async function loadAxe(page) {
  const src = readFileSync(resolve(here, 'node_modules/axe-core/axe.min.js'), 'utf8');
  await page.context().addInitScript({ content: src });
}

/**
 * Runs axe over the current document (every rule axe runs by default, any impact) and resolves
 * with one line per violation: rule id, impact, and the first few offending elements.
 */
export async function axeViolations(page) {
  const found = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')}${n.failureSummary ? ` (${n.failureSummary.split('\n').slice(1).join('; ').trim()})` : ''}`),
      more: Math.max(0, v.nodes.length - 3),
    }));
  });
  return found.map((v) => `${v.id} [${v.impact}]: ${v.nodes.join(' | ')}${v.more ? ` (+${v.more} more)` : ''}`);
}
