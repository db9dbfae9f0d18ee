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
/** The first test's signed-in owner page and what it made (the later tests reuse both). */
let made;

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
    // Nothing may push the page sideways on a phone: wide content scrolls inside its own box.
    const wide = await page.evaluate(() => {
      const over = document.scrollingElement.scrollWidth - innerWidth;
      if (over <= 0) return null;
      const culprit = [...document.querySelectorAll('body *')].find((el) => el.getBoundingClientRect().right > innerWidth + 0.5
        && !el.closest('.table-wrap, pre, dialog:not([open])'));
      return `${over}px wider than the screen${culprit ? ` (${culprit.tagName.toLowerCase()}${culprit.id ? `#${culprit.id}` : ''}.${culprit.className})` : ''}`;
    });
    if (wide) out.push(`${label} (${scheme}, ${width}px): overflows horizontally, ${wide}`);
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

  made = { page, payments, issuer };
  assert.deepEqual(found, [], `accessibility violations:\n${found.join('\n')}`);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(visitor.problems, []);
});

test('dialogs open and forms showing their errors have no accessibility violation either, nor overflow at 375 px', async () => {
  assert.ok(made, 'the first test in this file made the content');
  const { page, payments, issuer } = made;
  const found = [];
  const open = async (hash, heading) => {
    await page.goto(`${server.url}/${hash}`);
    await settled(page, heading);
  };
  /** Scans with dialog `name` open, then closes it with its Cancel (or Close) button. */
  const scanDialog = async (name, label) => {
    const d = page.getByRole('dialog', { name });
    await d.waitFor();
    found.push(...await scan(page, label));
    await d.getByRole('button', { name: /^(Cancel|Close)$/ }).first().click();
    await d.waitFor({ state: 'detached' });
  };

  // Type-the-name confirmation, the secret dialogs, a form's own errors.
  await open('#/projects', 'Projects');
  await page.getByRole('button', { name: 'Delete project payments' }).click();
  await page.getByRole('dialog', { name: 'Delete project payments' }).getByLabel('Type payments to confirm').fill('pay');
  await scanDialog('Delete project payments', 'delete project dialog');
  await open(`#/secrets/${payments.id}`, 'Secrets');
  await page.getByRole('button', { name: 'Update DATABASE_URL' }).click();
  await scanDialog('Update DATABASE_URL', 'update secret dialog');
  await page.getByRole('button', { name: 'Versions of DATABASE_URL' }).click();
  await scanDialog('Versions of DATABASE_URL', 'versions dialog');
  await page.getByRole('button', { name: 'Rotation of DATABASE_URL' }).click();
  await scanDialog('Rotation of DATABASE_URL', 'rotation dialog');
  await page.getByRole('button', { name: 'Create secret' }).click();
  await page.locator('main [aria-invalid="true"]').first().waitFor();
  found.push(...await scan(page, 'create secret form with errors'));

  // A tokenless machine's approval refused for a wrong fingerprint.
  await open('#/machines', 'Machines');
  await page.getByRole('button', { name: 'Approve copilot-host…' }).click();
  const approve = page.getByRole('dialog', { name: 'Approve copilot-host' });
  await approve.getByLabel('Fingerprint the machine printed').fill('SHA256:not-this-one');
  await approve.getByRole('button', { name: 'Approve copilot-host' }).click();
  await approve.locator('[aria-invalid="true"]').waitFor();
  await scanDialog('Approve copilot-host', 'approve machine dialog with an error');

  // The edit dialogs of issuers and connections, each showing an error.
  await open(`#/issuers/${issuer.id}`, 'GitHub Actions');
  await page.getByRole('button', { name: 'Edit issuer GitHub Actions' }).click();
  const editIssuer = page.getByRole('dialog', { name: 'Edit GitHub Actions' });
  await editIssuer.getByLabel('Name').fill('');
  await editIssuer.getByRole('button', { name: 'Save issuer' }).click();
  await editIssuer.locator('[aria-invalid="true"]').waitFor();
  await scanDialog('Edit GitHub Actions', 'edit issuer dialog with an error');
  await open('#/connections', 'Connections');
  await page.getByRole('button', { name: 'Edit connection main' }).click();
  const editConn = page.getByRole('dialog', { name: 'Edit connection main' });
  await editConn.getByLabel('Host').fill('db2.internal');
  await editConn.getByRole('button', { name: 'Save connection' }).click();
  await editConn.locator('[aria-invalid="true"]').waitFor();
  await scanDialog('Edit connection main', 'edit connection dialog with an error');

  // A role dialog, an agent's scopes, a plain confirmation.
  await open('#/users', 'Users');
  await page.getByRole('button', { name: 'Role of bob…' }).click();
  await scanDialog('Role of bob', 'role dialog');
  await open('#/agents', 'AI agents');
  await page.getByRole('button', { name: 'Scopes of assistant' }).click();
  await scanDialog(/assistant/, 'agent scopes dialog');
  await open('#/tokens', 'Tokens');
  await page.getByRole('button', { name: 'Revoke ci runners' }).click();
  await scanDialog('Please confirm', 'confirmation dialog');

  assert.deepEqual(found, [], `accessibility violations:\n${found.join('\n')}`);
  assert.deepEqual(page.problems, []);
});

test('every destructive button names what it acts on, and so does the button that confirms it; deleting a project and purging want the name typed', async () => {
  assert.ok(made, 'the first test in this file made the content');
  const { page, payments, issuer } = made;
  // Something in the trash, and the machine's own page.
  const old = await pageFetch(page, 'POST', '/v1/admin/secrets', { projectId: payments.id, name: 'OLD_KEY', value: 'old' });
  assert.equal(old.status, 200, old.text);
  assert.equal((await pageFetch(page, 'POST', `/v1/admin/secrets/${old.json.id}/delete`, {})).status, 200);
  const machines = (await pageFetch(page, 'GET', '/v1/admin/machines')).json.machines;
  const web = machines.find((m) => m.name === 'web-1');
  await pageFetch(page, 'POST', `/v1/admin/machines/${web.id}/approve`, { fingerprint: web.fingerprint });
  await pageFetch(page, 'POST', `/v1/admin/machines/${web.id}/attach`, { projectId: payments.id });

  // A verb alone, or with only the kind of thing, does not say which one goes.
  const GENERIC = /^(delete|remove|revoke|unlink|destroy|purge|deny|retire|detach|disable|clear|unfreeze|confirm|ok|yes)( (link|provider|key|cli key|passkey|identity|token|session|connection|rule|issuer|webhook|project|secret|policy|lease|mapping|machine|user|invitation|it|this|settings|from))*$/i;
  const DESTRUCTIVE = /^(delete|remove|revoke|unlink|destroy|purge|deny|retire|detach|disable)\b/i;
  const nameOf = (loc) => loc.evaluate((b) => (b.getAttribute('aria-label') || b.textContent).replace(/\s+/g, ' ').trim());
  const pages = await page.locator('nav a').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.textContent]));
  pages.push([`#/secrets/${payments.id}`, 'Secrets'], [`#/issuers/${issuer.id}`, 'GitHub Actions'], [`#/machines/${web.id}`, 'web-1']);
  const found = [];
  let checked = 0;
  for (const [href, heading] of pages) {
    await page.goto(`${server.url}/${href}`);
    await settled(page, heading);
    const buttons = page.locator('main button');
    const names = [];
    for (let i = 0; i < await buttons.count(); i++) {
      const b = buttons.nth(i);
      // A form's own buttons (Remove field) change only what is being typed, not what is stored.
      const [danger, inForm] = await b.evaluate((el) => [/danger/.test(el.className), Boolean(el.closest('form'))]);
      const name = await nameOf(b);
      if (!inForm && (danger || DESTRUCTIVE.test(name))) names.push(name);
    }
    for (const name of names) {
      checked += 1;
      if (GENERIC.test(name)) found.push(`${href}: the button "${name}" does not say what it acts on`);
      const trigger = page.locator('main').getByRole('button', { name, exact: true }).first();
      await trigger.click();
      const dialog = page.locator('dialog[open]');
      try {
        await dialog.waitFor({ timeout: 3000 });
      } catch {
        found.push(`${href}: "${name}" acts at once, with no confirmation`);
        await settled(page, heading);
        continue;
      }
      const confirm = dialog.locator('button.danger, button.danger-solid, button.primary').last();
      const confirmName = await nameOf(confirm);
      if (GENERIC.test(confirmName)) found.push(`${href}: "${name}" is confirmed by a button named only "${confirmName}"`);
      if (/^(Delete project|Purge) /.test(name) && !await dialog.getByLabel(/^Type .+ to confirm$/).count()) {
        found.push(`${href}: "${name}" does not ask for the name to be typed`);
      }
      await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
      await dialog.waitFor({ state: 'detached' });
    }
  }
  assert.ok(checked >= 12, `destructive buttons were found to check (${checked})`);
  assert.deepEqual(found, [], found.join('\n'));
  assert.deepEqual(page.problems, []);
});
