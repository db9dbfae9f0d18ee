// TOTP enrollment (issue 16): first-run setup shows the authenticator link as a QR code drawn by
// the server, which decodes (light and dark) to exactly the otpauth link on the page; a wrong
// code is refused next to its field with the QR code still up and nothing to continue to; the
// right code confirms the authenticator and continues into the dashboard, signed in.

import { test, before, after } from 'node:test';
import { spawn, execFile } from 'node:child_process';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { startServer, launch, newPage, setupOwner, confirmEnrollment, pageFetch, login, go, BIN } from './harness.js';
import { totp, secretFromUri } from './totp.js';

let server;
let browser;
/** The owner's signed-in page, once the first test made it. */
let ownerPage;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** What the QR code on the page says, read from a screenshot of it as a phone would. */
async function scanQr(page) {
  const png = PNG.sync.read(await page.locator('#totp-qr').screenshot());
  const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  assert.ok(found, 'a QR code is found in the screenshot');
  return found.data;
}

test('setup shows a scannable QR code and confirms the authenticator with a code', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);

  // The QR code is an image of the server's SVG, and reads back as the link beside it.
  const qr = page.locator('#totp-qr');
  await qr.waitFor();
  assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;base64,/);
  assert.match(await qr.getAttribute('alt'), /QR code/);
  assert.equal(await scanQr(page), owner.otpauthUri.trim());
  // Dark mode keeps the white quiet zone: it still scans.
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.equal(await scanQr(page), owner.otpauthUri.trim());
  await page.emulateMedia({ colorScheme: 'light' });
  // No way on before the code is confirmed.
  assert.equal(await page.getByRole('button', { name: /continue/i }).count(), 0);

  // A wrong code: said next to the field, with the clock hint; the QR code stays.
  const right = Number(totp(owner.totpSecret, Date.now()));
  const wrong = String((right + 500000) % 1000000).padStart(6, '0');
  await page.getByLabel('Code from your authenticator app').fill(wrong);
  await page.getByRole('button', { name: 'Confirm code' }).click();
  const error = page.locator('#enroll-totp-error');
  await error.waitFor();
  assert.match(await error.textContent(), /not right/);
  assert.match(await error.textContent(), /clock/);
  assert.equal(await page.getByLabel('Code from your authenticator app').getAttribute('aria-invalid'), 'true');
  assert.ok(await qr.isVisible(), 'the QR code stays on screen');
  assert.equal(await page.getByRole('button', { name: /continue/i }).count(), 0);
  assert.equal(await scanQr(page), owner.otpauthUri.trim());

  // The right code confirms, and continuing lands in the dashboard, signed in.
  await confirmEnrollment(page, owner);
  assert.equal(await page.locator('#totp-qr').count(), 1, 'the QR code is still there to re-scan');
  await page.getByRole('button', { name: /continue/i }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  ownerPage = page;

  // The confirmation is on the record; the refused code too.
  const audit = await pageFetch(page, 'POST', '/v1/admin/audit/query', { action: 'totp_confirm' });
  assert.equal(audit.status, 200, audit.text);
  const results = audit.json.records.map((r) => r.result).sort();
  assert.deepEqual(results, ['denied', 'ok']);
  assert.deepEqual(page.problems, []);
});

/** Every request `page` makes that leaves the Signet server (a third party would see the seed). */
function foreignRequests(page) {
  const out = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(`${server.url}/`) && !u.startsWith('data:')) out.push(u);
  });
  return out;
}

/** A wrong code for `secret` now: right for no step in the window the server accepts. */
function wrongCode(secret) {
  const near = [-1, 0, 1].map((k) => totp(secret, Date.now() + k * 30000));
  for (let n = 0; ; n++) {
    const c = String((Number(near[1]) + 500000 + n) % 1000000).padStart(6, '0');
    if (!near.includes(c)) return c;
  }
}

test('an invitation: the QR code is drawn by this server alone, a wrong code is refused, the right one confirms and is not taken twice', async () => {
  const invited = await pageFetch(ownerPage, 'POST', '/v1/admin/users/invite', { email: 'ines@example.com', role: 'developer' });
  assert.equal(invited.status, 200, invited.text);
  const page = await newPage(browser);
  const foreign = foreignRequests(page);
  await page.goto(invited.json.inviteUrl.replace(/^https?:\/\/[^/]+/, server.url));
  await page.getByLabel('Username').fill('ines');
  await page.getByLabel('Password', { exact: true }).fill('ines long password 7');
  await page.getByLabel('Repeat password').fill('ines long password 7');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.locator('#totp-qr').waitFor();
  const uri = (await page.locator('code').first().textContent()).trim();
  assert.equal(await scanQr(page), uri, 'the QR code is the link beside it');
  const who = { username: 'ines', password: 'ines long password 7', totpSecret: secretFromUri(uri) };

  const code = page.getByLabel('Code from your authenticator app');
  await code.fill(wrongCode(who.totpSecret));
  await page.getByRole('button', { name: 'Confirm code' }).click();
  await page.locator('#enroll-totp-error', { hasText: 'not right' }).waitFor();
  assert.equal(await code.getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByRole('button', { name: /continue/i }).count(), 0, 'nothing to continue to');

  const used = await confirmEnrollment(page, who);
  // The code that confirmed is spent: signing in with it again is refused.
  const other = await newPage(browser);
  await other.goto(`${server.url}/#/login`);
  await other.getByLabel('Username or email').fill('ines');
  await other.getByLabel('Password').fill(who.password);
  await other.getByLabel('Authenticator code').fill(used);
  await other.getByRole('button', { name: 'Sign in', exact: true }).click();
  await other.locator('#login-error', { hasText: 'did not match' }).waitFor();
  assert.equal(await other.evaluate(() => location.hash), '#/login');
  await page.getByRole('button', { name: /continue/i }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  assert.deepEqual(foreign, [], 'no request left the Signet server');
  assert.deepEqual(page.problems, []);
  assert.deepEqual(other.problems, []);
});

test('a user made by an administrator: the Users page shows their QR code, drawn locally, and their first code confirms it', async () => {
  const foreign = foreignRequests(ownerPage);
  await go(ownerPage, 'Users');
  await ownerPage.locator('#cu-username').fill('oskar');
  await ownerPage.locator('#cu-email').fill('oskar@example.com');
  await ownerPage.locator('#cu-password').fill('oskar long password 7');
  await ownerPage.locator('#cu-role').selectOption('viewer');
  await ownerPage.getByRole('button', { name: 'Create user' }).click();
  const dialog = ownerPage.getByRole('dialog', { name: 'oskar created' });
  await dialog.waitFor();
  const qr = dialog.locator('#totp-qr');
  await qr.waitFor();
  assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;base64,/);
  const uri = (await dialog.locator('code').first().textContent()).trim();
  assert.equal(await scanQr(ownerPage), uri, 'the QR code is the link beside it');
  await dialog.getByRole('button', { name: 'Done' }).click();
  assert.deepEqual(foreign, [], 'no request left the Signet server');

  // Not confirmed until the person signs in with a code from the app; then it is.
  const oskar = { username: 'oskar', password: 'oskar long password 7', totpSecret: secretFromUri(uri) };
  const page = await newPage(browser);
  const wrong = wrongCode(oskar.totpSecret);
  await page.goto(`${server.url}/#/login`);
  await page.getByLabel('Username or email').fill('oskar');
  await page.getByLabel('Password').fill(oskar.password);
  await page.getByLabel('Authenticator code').fill(wrong);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.locator('#login-error', { hasText: 'did not match' }).waitFor();
  await login(page, server, oskar);
  await go(page, 'Account');
  assert.match(await page.locator('main').innerText(), /Authenticator\s+on/);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(ownerPage.problems, []);
});

test('the CLI: accepting an invitation at a terminal offers to confirm the authenticator, refuses a wrong code, confirms a right one', async () => {
  const invited = await pageFetch(ownerPage, 'POST', '/v1/admin/users/invite', { email: 'tess@example.com', role: 'viewer' });
  assert.equal(invited.status, 200, invited.text);
  const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  // `script` gives the CLI a terminal (a pty) for its standard input, as a person has.
  const child = spawn('script', ['-qec', `${q(BIN)} user accept-invite ${q(invited.json.inviteUrl)} --username tess --password-stdin`, '/dev/null'], {
    env: { ...process.env, SIGNET_HOME: server.home('tess') }, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => { out += c; });
  child.stderr.on('data', (c) => { out += c; });
  const exited = new Promise((ok) => child.on('exit', ok));
  const until = async (re, ms = 30000) => {
    const end = Date.now() + ms;
    while (!re.test(out)) {
      if (Date.now() > end) throw new Error(`waited for ${re}; the terminal shows:\n${out}`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  };
  child.stdin.write('tess long password 7\n');
  await until(/Enter to skip/);
  const secret = secretFromUri(out.match(/otpauth:\/\/\S+/)[0]);
  child.stdin.write(`${wrongCode(secret)}\n`);
  await until(/not right/);
  child.stdin.write(`${totp(secret, Date.now())}\n`);
  await until(/Authenticator confirmed\./);
  child.stdin.end();
  assert.equal(await exited, 0, out);

  const audit = await pageFetch(ownerPage, 'POST', '/v1/admin/audit/query', { action: 'totp_confirm', limit: 20 });
  const tess = (await pageFetch(ownerPage, 'GET', '/v1/admin/users')).json.users.find((u) => u.username === 'tess');
  const mine = audit.json.records.filter((r) => r.target === tess.id).map((r) => r.result).sort();
  assert.deepEqual(mine, ['denied', 'ok'], 'the wrong code and the confirmation are on the record');
});

test('the CLI: accepting an invitation without a terminal prints what it printed before and asks nothing', async () => {
  const invited = await pageFetch(ownerPage, 'POST', '/v1/admin/users/invite', { email: 'uma@example.com', role: 'viewer' });
  assert.equal(invited.status, 200, invited.text);
  const r = await new Promise((ok) => {
    const child = execFile(BIN, ['user', 'accept-invite', invited.json.inviteUrl, '--username', 'uma', '--password-stdin'],
      { env: { ...process.env, SIGNET_HOME: server.home('uma') }, timeout: 60000 }, (err, stdout, stderr) => ok({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
    child.stdin.end('uma long password 7\n');
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /otpauth:\/\//);
  assert.match(r.stdout, /Then: signet login/);
  assert.doesNotMatch(r.stdout + r.stderr, /Enter to skip|confirmed/);
});
