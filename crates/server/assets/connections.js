// Database connections: the PostgreSQL servers leased secrets mint roles on, per project. The
// admin password goes in and never comes back (the page says only that one is set); Test asks
// the server to log in and answers a class of failure, never the database's own message.

import * as api from './api.js';
import { h, screen, card, mono, action, field, form, announce, idCell, filteredTable } from './page.js';

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
