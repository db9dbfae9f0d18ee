// The Request budgets page (issue 16, the pages of issue 13's request budgets): the vault default
// and a machine's own budget set from the page; a real machine over its budget of one request a
// minute is refused (429) on its next read; cleared from the page, it reads again. A viewer sees
// the budgets and no form.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, enrollMachine, signet, go, createUser, ok } from './harness.js';

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

test('request budgets set from the page hold a real machine to them', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  const secret = await ok(page, 'POST', '/v1/admin/secrets', { projectId: project.id, name: 'DATABASE_URL', value: 'postgres://db/pay' });
  const { home, machine } = await enrollMachine(page, server, { projectId: project.id, secretIds: [secret.id] });

  await go(page, 'Request budgets');
  assert.match(await page.locator('#budget-default-now').textContent(), /unlimited/);
  await page.getByLabel('Requests a minute, per machine').fill('600');
  await page.getByRole('button', { name: 'Save default' }).click();
  await page.locator('#budget-default-now', { hasText: '600 requests a minute' }).waitFor();
  assert.equal((await ok(page, 'GET', '/v1/admin/request-budgets')).defaultPerMinute, 600);

  // web-1 gets one request a minute: its first read passes, the next is refused.
  await page.getByLabel('Machine', { exact: true }).selectOption(machine);
  await page.getByLabel('Requests a minute', { exact: true }).fill('1');
  await page.getByRole('button', { name: 'Set budget' }).click();
  const row = page.getByRole('table', { name: 'Machine budgets' }).locator('tr', { hasText: 'web-1' });
  await row.waitFor();
  assert.match(await row.textContent(), /1 request a minute/);
  const reads = [];
  for (let i = 0; i < 2; i++) reads.push(await signet(home, ['get', secret.id]));
  assert.ok(reads.some((r) => r.code !== 0 && /429|too many|budget|retry/i.test(r.stderr)),
    `a read over the budget is refused: ${reads.map((r) => `${r.code} ${r.stderr.trim()}`).join(' | ')}`);

  // A viewer sees the budgets, not the forms.
  const vera = await createUser(page, { username: 'vera', email: 'vera@example.com', password: 'vera-password-long', role: 'viewer' });
  const viewer = await newPage(browser);
  await login(viewer, server, vera);
  await go(viewer, 'Request budgets');
  await viewer.getByRole('table', { name: 'Machine budgets' }).locator('tr', { hasText: 'web-1' }).waitFor();
  assert.equal(await viewer.getByRole('button', { name: /Save default|Set budget|Clear budget/ }).count(), 0);
  await viewer.close();

  // Cleared: web-1 follows the default (600) and reads again.
  await row.getByRole('button', { name: 'Clear budget of web-1' }).click();
  await page.getByText('No machine has its own budget.').waitFor();
  assert.deepEqual((await ok(page, 'GET', '/v1/admin/request-budgets')).machines, []);
  const again = await signet(home, ['get', secret.id]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout.trimEnd(), 'postgres://db/pay');
  assert.deepEqual(page.problems, []);
});
