// The AI agents page (issue 16, the pages of issue 14's features): a real host asks to join with
// the command the page shows (`signet enroll --request`); the owner approves it as an agent by
// typing the fingerprint it printed (a wrong one is refused next to the field, nothing filled
// in for them), with scopes and a project limit; the CLI sees the same agent; its scopes are
// changed, it is disabled, then revoked after typing its name. A viewer sees the list only.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, newPage, setupOwner, login, signet, go, createUser, ok } from './harness.js';
import { operatorLogin } from './operator.js';

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

test('a host approved as an AI agent from the page, by its typed fingerprint, with scopes', async () => {
  const page = await newPage(browser);
  const owner = await setupOwner(page, server);
  await login(page, server, owner);
  const project = await ok(page, 'POST', '/v1/admin/projects', { name: 'payments' });
  await ok(page, 'POST', '/v1/admin/projects', { name: 'billing' });

  await go(page, 'AI agents');
  await page.getByText('No AI agents yet.').waitFor();
  const shown = await page.locator('code.command', { hasText: '--request' }).textContent();
  assert.ok(shown.startsWith(`signet enroll --server ${server.url} --vault vault_`), shown);
  const args = shown.split(' ').slice(1).map((a) => (a === 'my-agent' ? 'assistant' : a));
  const home = server.home('assistant');
  const enrolled = await signet(home, ['--json', ...args]);
  assert.equal(enrolled.code, 0, enrolled.stderr);
  const { machineId, fingerprint, status } = JSON.parse(enrolled.stdout);
  assert.equal(status, 'pending');

  await page.reload();
  await page.getByRole('heading', { name: 'AI agents', level: 1 }).waitFor();
  const waiting = page.getByRole('table', { name: 'Machines that may be approved as agents' });
  await waiting.locator('tr', { hasText: /assistant/ }).waitFor();
  await waiting.getByRole('button', { name: 'Approve assistant as an agent…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Approve assistant as an AI agent' });
  const typed = dialog.getByLabel('Fingerprint the host printed');
  assert.equal(await typed.inputValue(), '', 'the fingerprint is typed, never filled in');
  await typed.fill('0000 0000 0000 0000 0000');
  await dialog.getByLabel(/^projects\.read/).check();
  await dialog.getByRole('button', { name: 'Approve assistant' }).click();
  await page.locator('#agent-fingerprint[aria-invalid="true"]').waitFor();
  assert.match(await page.locator('#agent-fingerprint-error').textContent(), /not the fingerprint/);
  await typed.fill(fingerprint);
  await dialog.getByLabel(/^projects\.read/).uncheck();
  await dialog.getByRole('button', { name: 'Approve assistant' }).click();
  assert.match(await dialog.locator('#approve-scopes .field-error').textContent(), /at least one scope/);
  await dialog.getByLabel(/^projects\.read/).check();
  await dialog.getByLabel(/^secrets\.write/).check();
  await dialog.getByLabel('payments', { exact: true }).check();
  await dialog.getByRole('button', { name: 'Approve assistant' }).click();
  await dialog.waitFor({ state: 'detached' });

  const agents = page.getByRole('table', { name: 'AI agents' });
  const row = agents.locator('tr', { hasText: /assistant/ });
  await row.waitFor();
  assert.match(await row.textContent(), /active/);
  assert.match(await row.textContent(), /projects\.read/);
  assert.match(await row.textContent(), /payments/);
  assert.equal(await waiting.count(), 0, 'nothing waits any more');

  // The API and the CLI see the agent the page approved.
  const listed = (await ok(page, 'GET', '/v1/admin/ai-agents')).agents;
  assert.deepEqual(listed.map((a) => [a.machine.id, a.machine.status, [...a.scopes].sort(), a.projectIds]),
    [[machineId, 'approved', ['projects.read', 'secrets.write'], [project.id]]]);
  const cli = await operatorLogin(server, owner, 'cli-home');
  const seen = await signet(cli, ['--json', 'ai-agent', 'list']);
  assert.equal(seen.code, 0, seen.stderr);
  assert.deepEqual(JSON.parse(seen.stdout).agents.map((a) => [a.machine.id, a.machine.fingerprint, [...a.scopes].sort()]),
    [[machineId, fingerprint, ['projects.read', 'secrets.write']]]);

  // Scopes: every project now, and machines.read instead of secrets.write.
  await row.getByRole('button', { name: 'Scopes of assistant' }).click();
  const scopes = page.getByRole('dialog', { name: 'Scopes of assistant' });
  assert.equal(await scopes.getByLabel(/^secrets\.write/).isChecked(), true, 'the dialog starts from the current scopes');
  await scopes.getByLabel(/^secrets\.write/).uncheck();
  await scopes.getByLabel(/^machines\.read/).check();
  await scopes.getByLabel('payments', { exact: true }).uncheck();
  await scopes.getByRole('button', { name: 'Save scopes' }).click();
  await scopes.waitFor({ state: 'detached' });
  await agents.locator('tr', { hasText: /every project/ }).waitFor();
  const [changed] = (await ok(page, 'GET', '/v1/admin/ai-agents')).agents;
  assert.deepEqual([[...changed.scopes].sort(), changed.projectIds ?? null], [['machines.read', 'projects.read'], null]);

  // A viewer sees the agents, and nothing to press.
  const vera = await createUser(page, { username: 'vera', email: 'vera@example.com', password: 'vera-password-long', role: 'viewer' });
  const viewer = await newPage(browser);
  await login(viewer, server, vera);
  await go(viewer, 'AI agents');
  await viewer.getByRole('table', { name: 'AI agents' }).locator('tr', { hasText: /assistant/ }).waitFor();
  assert.equal(await viewer.getByRole('region', { name: 'Waiting for approval' }).count(), 0);
  assert.equal(await viewer.getByRole('button', { name: /^(Approve|Scopes of|Disable|Enable|Revoke) / }).count(), 0);
  await viewer.close();

  // Disable, then revoke after typing the name.
  await page.getByRole('button', { name: 'Disable assistant' }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Disable assistant' }).click();
  await agents.locator('tr', { hasText: /disabled/ }).waitFor();
  await page.getByRole('button', { name: 'Revoke assistant' }).click();
  const revoke = page.getByRole('dialog', { name: 'Revoke assistant' });
  await revoke.getByLabel('Type assistant to confirm').fill('assistant');
  await revoke.getByRole('button', { name: 'Revoke assistant' }).click();
  await agents.locator('tr', { hasText: /revoked/ }).waitFor();
  const [gone] = (await ok(page, 'GET', '/v1/admin/ai-agents')).agents;
  assert.equal(gone.machine.status, 'revoked');
  assert.deepEqual(page.problems, []);
});
