// The first page after sign-in: counts, what waits for a decision, sign-in alerts, a first-run
// guide until the vault is in use, and recent activity.

import * as api from './api.js';
import { h, screen, card, table, when, badge, mono, idCell } from './page.js';

// crates/core/src/account.rs: LOCKOUT_FAILURES wrong sign-ins lock an account for LOCKOUT_MS.
const LOCKOUT_FAILURES = 5;
const LOCKOUT_MS = 15 * 60 * 1000;

/** Fetches what a role may read; `fallback` when the role may not (the rest still shows). */
async function maybe(p, fallback) {
  try {
    return await p;
  } catch (e) {
    if (e.status === 401) throw e;
    return fallback;
  }
}

/** Whether any of the first few projects holds a secret (the guide's second step). */
async function anySecret(projects) {
  const answers = await Promise.all(projects.slice(0, 5).map((p) =>
    maybe(api.post('/v1/admin/secrets/query', { projectId: p.id }), { secrets: [] })));
  return answers.some((a) => (a.secrets || []).length > 0);
}

/**
 * Accounts under attack: failed sign-ins per account in the last lockout window. The audit
 * records a failed sign-in with the account's id as target and no actor (nobody is signed in).
 */
function lockouts(failures, names) {
  const since = Date.now() - LOCKOUT_MS;
  const per = new Map();
  for (const r of failures) {
    if (!r.target || r.ts < since) continue;
    const e = per.get(r.target) || { count: 0, locked: false, last: 0 };
    e.count += 1;
    e.locked = e.locked || /reason=account_locked/.test(r.detail || '');
    e.last = Math.max(e.last, r.ts);
    per.set(r.target, e);
  }
  return [...per.entries()]
    .filter(([, e]) => e.locked || e.count >= LOCKOUT_FAILURES)
    .map(([id, e]) => ({ id, name: names.get(id), ...e }));
}

export async function overviewPage() {
  const [projects, machines, vault, users] = await Promise.all([
    api.get('/v1/admin/projects'),
    api.get('/v1/admin/machines'),
    api.get('/v1/admin/vault'),
    api.can('manage_users') ? maybe(api.get('/v1/admin/users'), { users: [] }) : { users: [] },
  ]);
  const names = new Map((users.users || []).map((u) => [u.id, u.username]));
  const all = machines.machines || [];
  const projectList = projects.projects || [];
  const pending = all.filter((m) => m.status === 'pending');
  const active = all.filter((m) => m.status === 'approved' && m.enabled);
  const auditable = api.can('read_audit');
  const [recent, failures] = auditable ? await Promise.all([
    maybe(api.post('/v1/admin/audit/query', { limit: 8 }), { records: [] }),
    maybe(api.post('/v1/admin/audit/query', {
      limit: 200, action: 'user_login', result: 'denied', sinceMs: Date.now() - LOCKOUT_MS,
    }), { records: [] }),
  ]) : [{ records: [] }, { records: [] }];
  const records = recent.records || [];

  // The first-run guide, for those who can follow it: each step checks off from real data, and
  // the guide is gone once all three are done.
  let guide = null;
  if (api.can('manage_projects')) {
    const steps = [
      ['Create a project', projectList.length > 0, '#/projects'],
      ['Add a secret to it', projectList.length > 0 && await anySecret(projectList), '#/secrets'],
      // Approved, not merely asking: anyone who reaches the server can file a tokenless request,
      // and a machine still waiting (or denied) reads nothing.
      ['Enroll a machine', all.some((m) => m.status === 'approved'), pending.length ? '#/machines' : '#/tokens'],
    ];
    if (!steps.every(([, done]) => done)) {
      guide = card('Get started',
        h('p', { class: 'muted small' }, 'Three steps until a machine reads its first secret. Each is checked off as it happens.'),
        h('ol', { class: 'checklist guide', id: 'first-run' }, steps.map(([text, done, href]) => h('li', { class: done ? 'done' : null },
          h('span', { class: done ? 'badge ok' : 'badge' }, done ? 'Done' : 'To do'), ' ',
          done ? h('span', null, text) : h('a', { href }, text)))));
    }
  }

  const locked = lockouts(failures.records || [], names);
  const who = (r) => {
    // A failed sign-in has no actor: name the account it was for (its id is the target).
    if (r.actorKind === 'anonymous' && r.action === 'user_login') {
      return r.target ? (names.has(r.target) ? `sign-in as ${names.get(r.target)}` : h('span', null, 'sign-in as ', mono(r.target)))
        : 'sign-in with an unknown name';
    }
    // The person behind a session or CLI key, when the server names them (`actorName`).
    if (r.actorName) return r.actorName;
    return r.actorId ? mono(r.actorId) : r.actorKind || '—';
  };
  const stat = (n, label, href) => h('div', { class: 'card stat' },
    h('a', { href }, h('span', { class: 'n' }, String(n)), h('span', { class: 'muted' }, label)));
  screen('Overview',
    locked.map((l) => h('p', { class: 'callout error', role: 'alert' },
      `Account ${l.name || l.id}: ${l.count} failed sign-in${l.count === 1 ? '' : 's'} in the last 15 minutes`,
      l.locked || l.count >= LOCKOUT_FAILURES ? ` (after ${LOCKOUT_FAILURES} the account is locked for 15 minutes). ` : '. ',
      api.can('read_audit') ? h('a', { href: '#/audit' }, 'See the audit log') : null)),
    guide,
    h('div', { class: 'grid' },
      stat(projectList.length, 'Projects', '#/projects'),
      stat(active.length, 'Active machines', '#/machines'),
      stat(pending.length, 'Waiting for approval', '#/machines'),
      stat(vault.ipAllowlistEnabled ? 'On' : 'Off', 'IP allowlist', '#/allowlist')),
    pending.length ? h('p', { class: 'callout' },
      `${pending.length} machine${pending.length === 1 ? '' : 's'} waiting for approval. `,
      h('a', { href: '#/machines' }, 'Review them')) : null,
    auditable ? card('Recent activity', table('Recent audit records', ['Action', 'By', 'Result', 'When'],
      records.map((r) => [r.action, who(r), resultBadge(r.result), when(r.ts)]),
      'No activity yet.')) : null,
    card('Vault', h('p', { class: 'small muted' }, 'Vault id ', idCell(vault.vaultId, 'vault id'), ' · created ', when(vault.createdAt))));
}

export function resultBadge(result) {
  return badge(result, result === 'ok' ? 'ok' : result === 'denied' ? 'bad' : 'warn');
}
