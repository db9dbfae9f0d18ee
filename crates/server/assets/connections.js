// Database connections: the PostgreSQL servers leased secrets mint roles on, per project. The
// admin password goes in and never comes back (the page says only that one is set); Test asks
// the server to log in and answers a class of failure, never the database's own message.

import * as api from './api.js';
import { h, screen, card, mono, action, field, form, announce, idCell, filteredTable, button, modal, fieldError } from './page.js';

const TLS = [['require', 'require'], ['verify-full', 'verify-full'], ['prefer', 'prefer'], ['disable', 'disable (loopback and tests only)']];

/** What a failed test means, by the server's class. */
const TEST_FAILURE = {
  unreachable: 'the server could not be reached',
  tls: 'the TLS handshake failed',
  authentication: 'the admin user or password was refused',
  privilege: 'the admin user lacks CREATEROLE',
  statement: 'a statement failed',
  timeout: 'it timed out',
  unconfigured: 'this server cannot reach databases (no provisioner)',
  other: 'it failed',
};

const writer = () => api.can('write_secrets');

/** A row button shows its verb (the row names the connection); its accessible name says which. */
function short(b, name) {
  const full = b.textContent;
  b.setAttribute('aria-label', full);
  b.textContent = full.replace(` connection ${name}`, '').replace(` ${name}`, '');
  return b;
}

function createForm(projects, reload) {
  return form('stack', [
    field('Project', { name: 'project', id: 'conn-project', options: projects.map((p) => [p.id, p.name]) }, { tag: 'select' }),
    field('Name', { name: 'name', id: 'conn-name', required: true, maxlength: 64, autocomplete: 'off' }),
    h('div', { class: 'fieldrow' },
      field('Host', { name: 'host', id: 'conn-host', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'db.internal' }),
      field('Port', { name: 'port', id: 'conn-port', type: 'number', min: 1, max: 65535, required: true, value: '5432' })),
    field('Database', { name: 'database', id: 'conn-database', required: true, autocomplete: 'off', spellcheck: 'false' }),
    field('Admin user', { name: 'adminUser', id: 'conn-user', required: true, autocomplete: 'off', spellcheck: 'false' },
      { hint: 'A role with CREATEROLE: Signet creates and drops the leased roles as it.' }),
    field('Admin password', { name: 'adminPassword', id: 'conn-password', type: 'password', required: true, autocomplete: 'new-password' },
      { hint: 'Stored encrypted; never shown again.' }),
    field('TLS', { name: 'tlsMode', id: 'conn-tls', options: TLS }, { tag: 'select' }),
  ], 'Add connection', async (v, f) => {
    const body = {
      name: v.name.trim(), host: v.host.trim(), port: Number(v.port), database: v.database.trim(), adminUser: v.adminUser.trim(), adminPassword: v.adminPassword, tlsMode: v.tlsMode,
    };
    const c = await api.post(`/v1/admin/projects/${api.seg(v.project)}/connections`, body);
    f.reset();
    // A reset empties what the page filled in; the usual port comes back.
    f.elements.namedItem('port').value = '5432';
    await reload();
    announce(`Connection ${c.name} added (${c.id}). Test it before leasing on it.`);
  }, {
    fieldsFor: (e) => {
      const m = String(e.message || '').toLowerCase();
      for (const [word, name] of [['host', 'host'], ['port', 'port'], ['database', 'database'], ['admin', 'adminUser'], ['user', 'adminUser'],
        ['password', 'adminPassword'], ['tls', 'tlsMode'], ['name', 'name']]) if (m.includes(word)) return [name];
      return [];
    },
  });
}

/**
 * Edits connection `c` in a dialog. The admin password is write-only: left empty, the stored
 * one is kept, but only for the same server, user and TLS mode (the server refuses to send it
 * anywhere else, so the form asks for it again before sending).
 */
function editConnection(c, reload) {
  const password = field('Admin password', { name: 'adminPassword', id: 'conn-edit-password', type: 'password', autocomplete: 'new-password' },
    { hint: 'Empty keeps the stored one. Needed again when the host, port, admin user or TLS changes.' });
  const tls = field('TLS', { name: 'tlsMode', id: 'conn-edit-tls', options: TLS }, { tag: 'select' });
  tls.control.value = c.tlsMode;
  const f = form('stack', [
    h('p', { class: 'muted small' }, `Project ${c.projectName}.`),
    field('Name', { name: 'name', id: 'conn-edit-name', required: true, maxlength: 64, autocomplete: 'off', value: c.name }),
    h('div', { class: 'fieldrow' },
      field('Host', { name: 'host', id: 'conn-edit-host', required: true, autocomplete: 'off', spellcheck: 'false', value: c.host }),
      field('Port', { name: 'port', id: 'conn-edit-port', type: 'number', min: 1, max: 65535, required: true, value: String(c.port) })),
    field('Database', { name: 'database', id: 'conn-edit-database', required: true, autocomplete: 'off', spellcheck: 'false', value: c.database }),
    field('Admin user', { name: 'adminUser', id: 'conn-edit-user', required: true, autocomplete: 'off', spellcheck: 'false', value: c.adminUser }),
    password,
    tls,
  ], 'Save connection', async (v) => {
    const body = {
      name: v.name.trim(), host: v.host.trim(), port: Number(v.port), database: v.database.trim(), adminUser: v.adminUser.trim(), tlsMode: v.tlsMode,
    };
    const moved = body.host !== c.host || body.port !== c.port || body.adminUser !== c.adminUser || body.tlsMode !== c.tlsMode;
    if (v.adminPassword) body.adminPassword = v.adminPassword;
    else if (moved) {
      fieldError(password, 'Type the admin password again: the stored one only goes to the server, user and TLS it was given for.');
      password.control.focus();
      return;
    }
    await api.post(`/v1/admin/projects/${api.seg(c.projectId)}/connections/${api.seg(c.id)}/update`, body);
    d.close();
    await reload();
    announce(`Connection ${body.name} saved.`);
  }, {
    fieldsFor: (e) => {
      const m = String(e.message || '').toLowerCase();
      for (const [word, name] of [['password', 'adminPassword'], ['host', 'host'], ['port', 'port'], ['database', 'database'], ['admin', 'adminUser'],
        ['user', 'adminUser'], ['tls', 'tlsMode'], ['name', 'name']]) if (m.includes(word)) return [name];
      return [];
    },
  });
  const d = modal(`Edit connection ${c.name}`, f, [button('Cancel', () => d.close())], { cls: 'wide' });
  f.elements.namedItem('name').focus();
}

export async function connectionsPage() {
  const { projects = [] } = await api.get('/v1/admin/projects');
  const lists = await Promise.all(projects.map((p) => api.get(`/v1/admin/projects/${api.seg(p.id)}/connections`)
    .then((r) => (r.connections || []).map((c) => ({ ...c, projectName: p.name })), () => [])));
  const connections = lists.flat();
  const reload = () => connectionsPage();
  const may = writer();
  const path = (c, verb) => `/v1/admin/projects/${api.seg(c.projectId)}/connections/${api.seg(c.id)}/${verb}`;
  const row = (c) => {
    const result = h('span', { class: 'conn-test', id: `test-${c.id}`, role: 'status' });
    return [
      c.name,
      c.projectName,
      mono(`${c.host}:${c.port}/${c.database}`),
      mono(c.adminUser),
      c.tlsMode,
      idCell(c.id, `id of ${c.name}`),
      may ? h('div', { class: 'actions' }, [
        action(`Test ${c.name}`, async () => {
          result.textContent = 'Testing…';
          const r = await api.post(path(c, 'test'), {});
          result.textContent = r.ok ? 'Works.' : `Failed: ${TEST_FAILURE[r.error] || r.error}.`;
          result.className = r.ok ? 'conn-test ok' : 'conn-test error-text';
        }, { cls: 'small' }),
        button(`Edit connection ${c.name}`, () => editConnection(c, reload), 'small'),
        action(`Delete connection ${c.name}`, async () => {
          await api.post(path(c, 'delete'), {});
          await reload();
        }, { cls: 'small danger', confirmAction: `Delete connection ${c.name}`, done: `Connection ${c.name} deleted.`,
          confirmText: `Delete the connection ${c.name}? Only a connection no leased secret or live lease uses can go.` }),
      ].map((b) => short(b, c.name)), result) : '',
    ];
  };
  screen('Connections',
    h('p', { class: 'muted' },
      'PostgreSQL servers that leased secrets create short-lived roles on (see Leases). The admin password is never shown back.'),
    card('Database connections', filteredTable({
      caption: 'Database connections',
      label: 'Search connections',
      headers: ['Name', 'Project', 'Server', 'Admin user', 'TLS', 'Id', 'Actions'],
      items: connections,
      row,
      text: (c) => `${c.name} ${c.projectName} ${c.host} ${c.database} ${c.adminUser} ${c.id}`,
      filters: projects.length > 1 ? [{ label: 'Project', options: [['', 'All'], ...projects.map((p) => [p.id, p.name])], test: (c, v) => c.projectId === v }] : [],
      empty: 'No connections yet.',
    })),
    may && projects.length ? card('Add a connection', createForm(projects, reload)) : null);
  return undefined;
}
