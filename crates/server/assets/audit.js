// The audit log: filters, paging backwards by sequence number, and a CSV of what was loaded.

import * as api from './api.js';
import { h, screen, card, table, when, mono, field, form, button, announce, action, idCell, copyButton } from './page.js';

/**
 * The audit vocabulary, from the server's own OpenAPI document (its `AuditAction` schema is
 * generated from the Rust enum), so the picker never drifts from what the server writes.
 */
let vocabulary = null;
export async function auditActions() {
  if (vocabulary) return vocabulary;
  try {
    const doc = await api.get('/v1/openapi.json');
    vocabulary = (((doc.components || {}).schemas || {}).AuditAction || {}).enum || [];
  } catch {
    vocabulary = [];
  }
  return vocabulary;
}

/** The actor as people know it: the username (or machine name), with the raw id beside it. */
function actorCell(r) {
  return h('span', { class: 'actor' },
    r.actorName ? h('strong', { class: 'actor-name' }, r.actorName) : null,
    h('span', { class: 'muted small' }, r.actorName ? ` ${r.actorKind} ` : `${r.actorKind} `),
    // A named actor's id goes behind its copy button (and its tooltip): a whole UUID in every
    // row pushed the log wider than the page. An unnamed actor has only its id to show.
    r.actorName && r.actorId
      ? h('span', { class: 'id-cell', title: r.actorId }, copyButton(r.actorId, `actor id of record ${r.seq}`))
      : idCell(r.actorId, `actor id of record ${r.seq}`));
}
import { resultBadge } from './overview.js';

const PAGE = 50;

function csvCell(v) {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
  // A leading = + - @ would make a spreadsheet evaluate the cell.
  const safe = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsv(records) {
  const cols = ['seq', 'ts', 'time', 'actorKind', 'actorId', 'action', 'target', 'sourceIp', 'result', 'detail', 'hash', 'actorName'];
  const lines = [cols.join(',')];
  for (const r of records) {
    lines.push(cols.map((c) => csvCell(c === 'time' ? new Date(r.ts).toISOString() : r[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * The people in the log, by name, for a role that may not list users (reading the user list
 * would be refused, and the refusal audited, at every visit): everyone named in the newest
 * records.
 */
async function peopleInLog() {
  const { records = [] } = await api.post('/v1/admin/audit/query', { limit: 1000 }).catch(() => ({}));
  const named = new Map();
  for (const r of records) if (r.actorUserId && r.actorName && !named.has(r.actorUserId)) named.set(r.actorUserId, r.actorName);
  return [...named].map(([id, username]) => ({ id, username })).sort((a, b) => a.username.localeCompare(b.username));
}

export async function auditPage() {
  const [actions, people, machines] = await Promise.all([
    auditActions(),
    api.can('manage_users') ? api.get('/v1/admin/users').then((r) => r.users || [], () => []) : peopleInLog(),
    api.get('/v1/admin/machines').then((r) => r.machines || [], () => []),
  ]);
  let filter = {};
  let loaded = [];
  const body = h('div', { id: 'audit-records', 'aria-busy': 'false' });
  const more = button('Older records', () => load(true));
  more.hidden = true;
  const info = h('p', { class: 'muted small' });

  async function load(older) {
    body.setAttribute('aria-busy', 'true');
    const q = { ...filter, limit: PAGE };
    if (older && loaded.length) q.beforeSeq = loaded[loaded.length - 1].seq;
    const { records = [] } = await api.post('/v1/admin/audit/query', q);
    loaded = older ? loaded.concat(records) : records;
    more.hidden = records.length < PAGE;
    info.textContent = `${loaded.length} record${loaded.length === 1 ? '' : 's'} loaded.`;
    body.replaceChildren(table('Audit records', ['Seq', 'When', 'Actor', 'Action', 'Target', 'Source', 'Result', 'Detail'],
      loaded.map((r) => [String(r.seq), when(r.ts), actorCell(r), r.action,
        idCell(r.target, `target of record ${r.seq}`), mono(r.sourceIp), resultBadge(r.result),
        h('span', { class: 'small' }, typeof r.detail === 'object' && r.detail !== null ? JSON.stringify(r.detail) : (r.detail ?? ''))]),
      'No records match.'));
    // A wide table scrolls sideways: keyboard users must be able to reach and scroll it.
    const wrap = body.querySelector('.table-wrap');
    if (wrap) {
      wrap.setAttribute('tabindex', '0');
      wrap.setAttribute('role', 'region');
      wrap.setAttribute('aria-label', 'Audit records (scrolls sideways)');
    }
    body.setAttribute('aria-busy', 'false');
  }

  const actionList = h('datalist', { id: 'audit-action-list' }, actions.map((a) => h('option', { value: a })));
  const filters = form('inline', [
    // Actors by name: people (under every key and session of theirs) and machines.
    field('Person', { name: 'person', id: 'audit-person',
      options: [['', 'anyone'], ...people.map((u) => [u.id, u.username]),
        ...machines.map((m) => [`machine:${m.id}`, `${m.name} (machine)`])] }, { tag: 'select' }),
    field('Actor id', { name: 'actorId', autocomplete: 'off', id: 'audit-actor', placeholder: 'a machine or key id' }),
    field('Action', { name: 'action', autocomplete: 'off', placeholder: 'machine_approve or approve', id: 'audit-action', list: 'audit-action-list' },
      { hint: 'Pick one, or type part of a name: every action containing it matches.' }),
    actionList,
    field('Result', { name: 'result', id: 'audit-result', options: [['', 'any'], ['ok', 'ok'], ['denied', 'denied'], ['failed', 'failed']] }, { tag: 'select' }),
    field('From', { name: 'since', type: 'datetime-local', id: 'audit-since' }),
    field('Until', { name: 'until', type: 'datetime-local', id: 'audit-until' }),
  ], 'Apply filters', async (v) => {
    filter = {};
    if (v.person.startsWith('machine:')) filter.actorId = v.person.slice('machine:'.length);
    else if (v.person) filter.actorUserId = v.person;
    else if (v.actorId.trim()) filter.actorId = v.actorId.trim();
    if (v.action.trim()) filter.action = v.action.trim();
    if (v.result) filter.result = v.result;
    if (v.since) filter.sinceMs = new Date(v.since).getTime();
    if (v.until) filter.untilMs = new Date(v.until).getTime();
    await load(false);
  });

  const exportCsv = button('Export CSV', () => {
    const blob = new Blob([toCsv(loaded)], { type: 'text/csv' });
    const a = h('a', { href: URL.createObjectURL(blob), download: `signet-audit-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.csv` });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    announce(`Exported ${loaded.length} records.`);
  });
  const verify = action('Verify the chain', async () => {
    const r = await api.post('/v1/admin/audit/verify', {});
    announce(r.ok ? `The chain is intact: ${r.records} records up to ${r.headSeq}.`
      : `The chain is broken at ${r.firstBadSeq}: ${r.problem}`, r.ok ? 'info' : 'error');
  });

  screen('Audit log',
    card('Filter', filters),
    card(null, h('div', { class: 'actions' }, exportCsv, verify), info, body, h('div', { class: 'top-gap' }, more)));
  await load(false);
}
