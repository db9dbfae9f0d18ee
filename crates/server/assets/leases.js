// Leased database credentials: every lease with its machine, secret, role, expiry and state,
// renew and revoke buttons (with confirmation; not for viewers), and a form that creates a
// leased secret on one of a project's database connections.

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, field, form, announce, filteredTable, idCell } from './page.js';

const STATE_KIND = { active: 'ok', revoking: 'warn', revoked: '' };

function createForm(projects, reload) {
  return form('stack', [
    field('Project', { name: 'project', id: 'lease-project', options: projects.map((p) => [p.id, p.name]) }, { tag: 'select' }),
    field('Name', { name: 'name', id: 'lease-name', required: true, autocomplete: 'off' }),
    field('Connection id', { name: 'connection', id: 'lease-connection', required: true, autocomplete: 'off' },
      { hint: 'dbc_…, registered with signet connection create.' }),
    field('Lifetime (seconds)', { name: 'ttl', id: 'lease-ttl', type: 'number', min: 60, value: '3600' }),
    field('Hard maximum (seconds)', { name: 'maxTtl', id: 'lease-max-ttl', type: 'number', min: 60, value: '86400' }),
    field('Renew on read', { name: 'renewOnRead', id: 'lease-renew', type: 'checkbox' }),
    field('Mint fresh on every read', { name: 'mintFresh', id: 'lease-fresh', type: 'checkbox' }),
    field('Revoke when the machine is disabled', { name: 'revokeOnDisable', id: 'lease-disable', type: 'checkbox' }),
    field('Grant SQL', { name: 'grants', id: 'lease-grants', required: true, rows: 3, spellcheck: 'false' },
      { tag: 'textarea', hint: 'One statement per line; {{name}} is the new role.' }),
  ], 'Create leased secret', async (v, f) => {
    const r = await api.post(`/v1/admin/projects/${api.seg(v.project)}/leased-secrets`, {
      name: v.name,
      settings: {
        connectionId: v.connection,
        ttlSecs: Number(v.ttl),
        maxTtlSecs: Number(v.maxTtl),
        renewOnRead: v.renewOnRead,
        mintFresh: v.mintFresh,
        revokeOnDisable: v.revokeOnDisable,
        grantSql: v.grants.split('\n').filter((l) => l.trim() !== ''),
      },
    });
    f.reset();
    await reload();
    announce(`Leased secret ${v.name} created (${r.secretId}).`);
  });
}

export async function leasesPage() {
  const writer = (api.session.user || {}).role !== 'viewer';
  const [{ leases = [] }, { projects = [] }] = await Promise.all([
    api.get('/v1/admin/leases'),
    writer ? api.get('/v1/admin/projects') : Promise.resolve({}),
  ]);
  const reload = () => leasesPage();
  const row = (l) => [
    idCell(l.machineId, 'machine id'),
    idCell(l.secretId, 'secret id'),
    idCell(l.role, 'role name'),
    when(l.expiresAt),
    badge(l.state, STATE_KIND[l.state] || ''),
    writer && l.state === 'active'
      ? h('div', { class: 'actions' },
        action(`Renew ${l.role}`, async () => {
          await api.post(`/v1/admin/leases/${api.seg(l.id)}/renew`, {});
          await reload();
        }, { cls: 'small', confirmAction: `Renew ${l.role}`, done: `Lease ${l.role} renewed.`, confirmText: `Renew the lease of ${l.role}? It is extended by the secret's lifetime, never past its hard maximum.` }),
        action(`Revoke ${l.role}`, async () => {
          await api.post(`/v1/admin/leases/${api.seg(l.id)}/revoke`, {});
          await reload();
        }, { cls: 'small danger', confirmAction: `Revoke ${l.role}`, done: `Lease ${l.role} revoked.`, confirmText: `Revoke the lease of ${l.role}? Its role is dropped and its sessions end now.` }))
      : '',
  ];
  screen('Leases',
    h('p', { class: 'muted' },
      'Database roles minted for machines by their reads of leased secrets. The server revokes each when it expires.'),
    card('Leases', filteredTable({
      caption: 'Leases',
      label: 'Search leases',
      headers: ['Machine', 'Secret', 'Role', 'Expires', 'State', 'Actions'],
      items: leases,
      row,
      text: (l) => `${l.machineId} ${l.secretId} ${l.role} ${l.state}`,
      filters: [{ label: 'State', options: [['', 'All'], ...[...new Set(leases.map((l) => l.state))].map((st) => [st, st])], test: (l, v) => l.state === v }],
      empty: 'No leases yet.',
    })),
    writer && projects.length ? card('New leased secret', createForm(projects, reload)) : '');
}
