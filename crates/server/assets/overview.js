// The first page after sign-in: counts, what waits for a decision, and recent activity.

import * as api from './api.js';
import { h, screen, card, table, when, badge, mono } from './page.js';

export async function overviewPage() {
  const [projects, machines, vault] = await Promise.all([
    api.get('/v1/admin/projects'),
    api.get('/v1/admin/machines'),
    api.get('/v1/admin/vault'),
  ]);
  const all = machines.machines || [];
  const pending = all.filter((m) => m.status === 'pending');
  const active = all.filter((m) => m.status === 'approved' && m.enabled);
  let records = [];
  try {
    records = (await api.post('/v1/admin/audit/query', { limit: 8 })).records || [];
  } catch { /* a role without audit access still sees the rest */ }
  const stat = (n, label, href) => h('div', { class: 'card stat' },
    h('a', { href }, h('span', { class: 'n' }, String(n)), h('span', { class: 'muted' }, label)));
  screen('Overview',
    h('div', { class: 'grid' },
      stat((projects.projects || []).length, 'Projects', '#/projects'),
      stat(active.length, 'Active machines', '#/machines'),
      stat(pending.length, 'Waiting for approval', '#/machines'),
      stat(vault.ipAllowlistEnabled ? 'On' : 'Off', 'IP allowlist', '#/allowlist')),
    pending.length ? h('p', { class: 'callout' },
      `${pending.length} machine${pending.length === 1 ? '' : 's'} waiting for approval. `,
      h('a', { href: '#/machines' }, 'Review them')) : null,
    card('Recent activity', table('Recent audit records', ['Action', 'Actor', 'Result', 'When'],
      records.map((r) => [r.action, mono(r.actorId), resultBadge(r.result), when(r.ts)]),
      'No activity yet.')),
    card('Vault', h('p', { class: 'small muted' }, 'Vault id ', mono(vault.vaultId), ' · created ', when(vault.createdAt))));
}

export function resultBadge(result) {
  return badge(result, result === 'ok' ? 'ok' : result === 'denied' ? 'bad' : 'warn');
}
