// TOTP enrollment (issue 16): first-run setup shows the authenticator link as a QR code drawn by
// the server, which decodes (light and dark) to exactly the otpauth link on the page; a wrong
// code is refused next to its field with the QR code still up and nothing to continue to; the
// right code confirms the authenticator and continues into the dashboard, signed in.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { startServer, launch, newPage, setupOwner, confirmEnrollment, pageFetch } from './harness.js';
import { totp } from './totp.js';

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

  // The confirmation is on the record; the refused code too.
  const audit = await pageFetch(page, 'POST', '/v1/admin/audit/query', { action: 'totp_confirm' });
  assert.equal(audit.status, 200, audit.text);
  const results = audit.json.records.map((r) => r.result).sort();
  assert.deepEqual(results, ['denied', 'ok']);
  assert.deepEqual(page.problems, []);
});
