// What a hostile web page, a hostile machine name, a shoulder-surfed code, a password guesser and
// a stolen cookie can do to a signed-in admin: nothing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startServer, launch, newPage, setupOwner, login, signet, hasRoute, pageFetch, createUser,
  cookieHeader, freePort, freshTotp, sleep,
} from './harness.js';
import { totp } from './totp.js';

let server;
let browser;
let owner;
let ownerPage;
let ready = false;

before(async () => {
  server = await startServer();
  browser = await launch();
  if (!(await hasRoute(server.url, 'POST', '/v1/auth/setup'))) return;
  ownerPage = await newPage(browser);
  owner = await setupOwner(ownerPage, server, { username: 'olivia', email: 'olivia@example.com' });
  await login(ownerPage, server, owner);
  ready = true;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});


async function projectNames() {
  const r = await pageFetch(ownerPage, 'GET', '/v1/admin/projects');
  assert.equal(r.status, 200, r.text);
  return r.json.projects.map((p) => p.name).sort();
}

test('a cross-site form and fetch cannot act with the admin\'s session', async (t) => {
  assert.ok(ready, 'the owner signed in');
  const before_ = await projectNames();
  const target = `${server.url}/v1/admin/projects`;
  // The classic text/plain form trick makes the body valid JSON; the fetch tries no-cors.
  const evil = `<!doctype html><title>cute cats</title>
<form id="f" method="POST" action="${target}" enctype="text/plain">
<input name='{"name":"evil-form","x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(target)}, {method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: {'Content-Type': 'text/plain'}, body: '{"name":"evil-fetch"}'})
  .catch(() => {}).finally(() => { document.title = 'fetched'; document.getElementById('f').submit(); });
</script>`;
  const port = await freePort();
  const evilServer = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(evil);
  });
  await new Promise((ok) => evilServer.listen(port, '127.0.0.1', ok));
  try {
    // Same browser context as the signed-in admin: the cookie is there to be abused.
    const page = await ownerPage.context().newPage();
    const landed = page.waitForURL((u) => u.href.startsWith(target), { timeout: 10000 }).catch(() => null);
    await page.goto(`http://127.0.0.1:${port}/`);
    await landed;
    await page.close();
  } finally {
    evilServer.close();
  }

  // Same origin but without the CSRF token, as a page script that found a way in would send it.
  const noToken = await pageFetch(ownerPage, 'POST', '/v1/admin/projects', { name: 'evil-notoken' }, { csrf: false });
  assert.equal(noToken.status, 403, noToken.text);
  assert.equal(noToken.json?.code, 'csrf_refused');

  // The cookie and a valid token, replayed from another origin.
  const csrf = (await pageFetch(ownerPage, 'GET', '/v1/auth/session')).json.csrfToken;
  const foreign = await fetch(target, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json', Cookie: await cookieHeader(ownerPage), 'X-CSRF-Token': csrf,
      Origin: `http://127.0.0.1:${port}`, 'Sec-Fetch-Site': 'cross-site',
    },
    body: JSON.stringify({ name: 'evil-origin' }),
  });
  assert.equal(foreign.status, 403);

  assert.deepEqual(await projectNames(), before_, 'no project was created');
});

test('a machine named like markup renders as inert text', async (t) => {
  assert.ok(ready, 'the owner signed in');
  const evilName = '<img src=x onerror=alert(1)>';
  const tok = await pageFetch(ownerPage, 'POST', '/v1/admin/tokens/bootstrap', {});
  assert.equal(tok.status, 200, tok.text);
  const out = await signet(server.home('xss'), ['enroll', '--server', server.url, '--token', tok.json.token, '--name', evilName]);
  assert.equal(out.code, 0, out.stderr);

  const page = await newPage(browser);
  await page.context().addCookies(await ownerPage.context().cookies());
  for (const hash of ['#/machines', '#/']) {
    await page.goto(`${server.url}/${hash}`);
    await page.getByRole('heading', { level: 1 }).waitFor();
    await sleep(300);
  }
  await page.goto(`${server.url}/#/machines`);
  await page.getByText(evilName, { exact: true }).first().waitFor();
  assert.equal(await page.locator('main img').count(), 0, 'no img element was made from the name');
  await page.goto(`${server.url}/#/audit`);
  await page.locator('table').first().waitFor();
  assert.equal(await page.locator('main img').count(), 0);
  assert.deepEqual(page.problems, [], 'no alert() fired and no CSP violation');
  await page.close();
});

test('a TOTP code that was used once is refused the second time', async (t) => {
  assert.ok(ready, 'the owner signed in');
  const dave = await createUser(ownerPage, { username: 'dave', email: 'dave@example.com', password: 'dave-password-long', role: 'viewer' });
  // Far enough from the end of the 30 s step that both attempts use the same code.
  while (Date.now() % 30000 > 22000) await sleep(500);
  const code = totp(dave.totpSecret);
  const page = await newPage(browser);
  const signIn = async () => {
    await page.goto(`${server.url}/#/login`);
    await page.getByRole('heading', { name: 'Sign in', level: 1 }).waitFor();
    await page.getByLabel('Username or email').fill('dave');
    await page.getByLabel('Password').fill(dave.password);
    await page.getByLabel('Authenticator code').fill(code);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  };
  await signIn();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await signIn();
  await page.getByRole('alert').filter({ hasText: /did not match|too many/i }).waitFor();
  const s = await pageFetch(page, 'GET', '/v1/auth/session', undefined, { csrf: false });
  assert.equal(s.status, 401, 'no session from a replayed code');
  await page.close();
});

test('a logged-out session cookie no longer works', async (t) => {
  assert.ok(ready, 'the owner signed in');
  const erin = await createUser(ownerPage, { username: 'erin', email: 'erin@example.com', password: 'erin-password-long', role: 'admin' });
  const page = await newPage(browser);
  await login(page, server, erin);
  const cookie = await cookieHeader(page);
  const alive = await fetch(`${server.url}/v1/auth/session`, { headers: { Cookie: cookie } });
  assert.equal(alive.status, 200, 'the copied cookie works while signed in');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  for (const path of ['/v1/auth/session', '/v1/admin/projects', '/v1/admin/account']) {
    const r = await fetch(server.url + path, { headers: { Cookie: cookie } });
    assert.equal(r.status, 401, `${path} after logout`);
  }
  await page.close();
});

test('lockout holds against case and width variants of the username', async (t) => {
  assert.ok(ready, 'the owner signed in');
  const alice = await createUser(ownerPage, { username: 'alice', email: 'alice@example.com', password: 'alice-password-long', role: 'viewer' });
  const page = await newPage(browser);
  await page.goto(`${server.url}/#/login`);
  const attempt = (login, password, code) => page.evaluate(async (body) => {
    const r = await fetch('/v1/auth/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    return r.status;
  }, { login, password, totp: code });
  for (const variant of ['ALICE', 'alice', 'Ａｌｉｃｅ', 'Alice', 'aLiCe']) {
    const status = await attempt(variant, 'wrong-password-guess', totp(alice.totpSecret));
    assert.ok(status === 401 || status === 429, `${variant}: ${status}`);
  }
  const status = await attempt('alice', alice.password, await freshTotp(alice.totpSecret));
  assert.notEqual(status, 200, 'the right password is refused while locked');
  assert.equal(status, 429);
  await page.close();
});
