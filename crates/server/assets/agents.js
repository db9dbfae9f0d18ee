// AI agents: a machine identity approved as an agent manages projects, secrets and machines
// within its scopes and never reads a value. A host that will run `signet mcp` enrolls like a
// machine; here an operator approves it as an agent by typing the fingerprint it printed,
// picks its scopes and projects, changes them later, and disables or revokes it.

import * as api from './api.js';
import {
  h, screen, card, table, when, mono, badge, action, field, announce, button, modal, fieldError,
  clearFieldErrors, filteredTable, idCell, copyButton, explain,
} from './page.js';
import { howBadge } from './enrollment.js';

/** Every scope, as `crates/core/src/ai_agent.rs` names it, with what it allows in words. */
const SCOPES = [
  ['projects.read', 'List projects'],
  ['projects.write', 'Create projects'],
  ['secrets.read', 'List secrets\u2019 names and metadata (never a value)'],
  ['secrets.write', 'Create secrets and rotate them (values go in, never out)'],
  ['machines.read', 'List machines'],
  ['machines.write', 'Approve bootstrap-token machines, enable, disable, grant'],
  ['audit.read', 'Query the audit log (not with a project limit)'],
];

const manager = () => api.can('manage_machines');

/** A fingerprint may wrap between its groups on a phone (app.css), never inside one. */
function fingerprintCell(m) {
  const code = h('code', { class: 'fingerprint id' }, m.fingerprint);
  return h('span', { class: 'id-cell' }, code, copyButton(m.fingerprint, `fingerprint of ${m.name}`, code));
}

function command(text, what) {
  const code = h('code', { class: 'command' }, text);
  return h('div', { class: 'copyrow' }, code, copyButton(text, what, code));
}

/** Scope and project checkboxes, ticked as `chosen` says; `read(form)` gives the request body. */
function profileFields(prefix, projects, chosen = { scopes: [], projectIds: null }) {
  const scopes = h('fieldset', { class: 'field', id: `${prefix}-scopes` }, h('legend', null, 'Scopes'),
    SCOPES.map(([name, text]) => field(`${name}: ${text}`, {
      type: 'checkbox', name: `scope:${name}`, id: `${prefix}-scope-${name.replace('.', '-')}`, checked: chosen.scopes.includes(name),
    })));
  scopes.control = scopes.querySelector('input');
  const limited = chosen.projectIds || [];
  const projectBox = projects.length ? h('fieldset', { class: 'field', id: `${prefix}-projects` },
    h('legend', null, 'Projects it may touch (none ticked: every project)'),
    projects.map((p) => field(p.name, { type: 'checkbox', name: `project:${p.id}`, id: `${prefix}-p-${p.id}`, checked: limited.includes(p.id) }))) : null;
  const read = (f) => {
    const on = [...f.elements].filter((el) => el.type === 'checkbox' && el.checked).map((el) => el.name);
    const picked = on.filter((n) => n.startsWith('project:')).map((n) => n.slice(8));
    const body = { scopes: on.filter((n) => n.startsWith('scope:')).map((n) => n.slice(6)) };
    if (picked.length) body.projectIds = picked;
    return body;
  };
  return { scopes, projectBox, read };
}

/**
 * A dialog form: `fn(form)` runs on submit; a refusal is shown next to the field it is about
 * (`placeFor(e)` gives that field's wrapper) or above the buttons.
 */
function dialogForm(title, children, submitText, fn, placeFor) {
  const go = h('button', { type: 'submit', class: 'primary' }, submitText);
  const general = h('p', { class: 'error-text', role: 'alert' });
  const f = h('form', { class: 'stack', novalidate: true }, children, general);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(f);
    general.textContent = '';
    go.disabled = true;
    f.setAttribute('aria-busy', 'true');
    try {
      if (await fn(f)) d.close();
    } catch (e) {
      const wrap = placeFor && placeFor(e);
      if (wrap) {
        fieldError(wrap, explain(e).text);
        wrap.control.focus();
      } else {
        general.textContent = explain(e).text;
      }
    } finally {
      go.disabled = false;
      f.setAttribute('aria-busy', 'false');
    }
  });
  go.addEventListener('click', () => f.requestSubmit());
  const d = modal(title, f, [button('Cancel', () => d.close()), go], { cls: 'wide' });
  return { d, f };
}

/**
 * Approval as an agent. As for a tokenless machine, the fingerprint is typed (or pasted) from
 * the agent's host, never filled in from this page; the server checks it again.
 */
function approveButton(m, projects, after) {
  return button(`Approve ${m.name} as an agent\u2026`, () => {
    const fp = field('Fingerprint the host printed', { autocomplete: 'off', spellcheck: 'false', id: 'agent-fingerprint', class: 'mono' },
      { hint: 'Type or paste it from the agent\u2019s host, not from this page.' });
    const prof = profileFields('approve', projects);
    const { f } = dialogForm(`Approve ${m.name} as an AI agent`, [
      h('p', null, `${m.name} (${m.hostname}) asked to join from `, mono(m.registeredIp), '. As an agent it manages within its scopes and never reads a value.'),
      fp, prof.scopes, prof.projectBox,
    ], `Approve ${m.name}`, async (form) => {
      const typed = fp.control.value.trim();
      if (typed !== m.fingerprint) {
        fieldError(fp, typed ? 'This is not the fingerprint of this request. Check with the host; do not approve a key you cannot vouch for.'
          : 'Type or paste the fingerprint the host printed.');
        fp.control.focus();
        return false;
      }
      const body = prof.read(form);
      if (!body.scopes.length) {
        fieldError(prof.scopes, 'Tick at least one scope.');
        prof.scopes.control.focus();
        return false;
      }
      await api.post(`/v1/admin/ai-agents/${api.seg(m.id)}/approve`, { fingerprint: typed, ...body });
      await after();
      announce(`${m.name} approved as an AI agent.`);
      return true;
    }, (e) => (/fingerprint/i.test(e.message) ? fp : /scope/i.test(e.message) ? prof.scopes : /project/i.test(e.message) ? prof.projectBox : null));
    f.querySelector('#agent-fingerprint').focus();
  }, 'small primary');
}

function scopesButton(a, projects, after) {
  const m = a.machine;
  return button(`Scopes of ${m.name}`, () => {
    const prof = profileFields('scopes', projects, a);
    dialogForm(`Scopes of ${m.name}`, [prof.scopes, prof.projectBox], 'Save scopes', async (form) => {
      const body = prof.read(form);
      if (!body.scopes.length) {
        fieldError(prof.scopes, 'Tick at least one scope (or disable the agent).');
        prof.scopes.control.focus();
        return false;
      }
      await api.post(`/v1/admin/ai-agents/${api.seg(m.id)}/scopes`, body);
      await after();
      announce(`Scopes of ${m.name} saved.`);
      return true;
    }, (e) => (/scope/i.test(e.message) ? prof.scopes : /project/i.test(e.message) ? prof.projectBox : null));
  }, 'small');
}

/**
 * Row buttons show their verb only (the row names the agent); the accessible name keeps the
 * whole "Revoke assistant", so a screen reader and the confirmation say which one.
 */
function named(buttons, name) {
  for (const b of buttons) {
    const full = b.textContent;
    b.setAttribute('aria-label', full);
    b.textContent = full.endsWith(` ${name}`) ? full.slice(0, -name.length - 1).replace(/ of$/, '') : full;
  }
  return buttons;
}

function state(m) {
  if (m.status === 'approved') return m.enabled ? badge('active', 'ok') : badge('disabled', 'warn');
  return badge(m.status, m.status === 'pending' ? 'warn' : 'bad');
}

export async function agentsPage() {
  const may = manager();
  const [{ agents = [] }, machines, { projects = [] }, vault] = await Promise.all([
    api.get('/v1/admin/ai-agents'),
    may ? api.get('/v1/admin/machines').then((r) => r.machines || []) : Promise.resolve([]),
    api.get('/v1/admin/projects'),
    api.get('/v1/admin/vault').catch(() => null),
  ]);
  const reload = () => agentsPage();
  const agentIds = new Set(agents.map((a) => a.machine.id));
  const pending = machines.filter((m) => m.status === 'pending' && !agentIds.has(m.id));
  const projectName = new Map(projects.map((p) => [p.id, p.name]));
  const act = (m, verb) => api.post(`/v1/admin/machines/${api.seg(m.id)}/${verb}`, {});
  const row = (a) => {
    const m = a.machine;
    return [
      m.name,
      state(m),
      h('span', { class: 'badges' }, a.scopes.map((s) => badge(s))),
      a.projectIds ? a.projectIds.map((p) => projectName.get(p) || p).join(', ') : 'every project',
      fingerprintCell(m),
      idCell(m.id, `id of ${m.name}`),
      may && m.status === 'approved' ? h('div', { class: 'actions' }, named([
        scopesButton(a, projects, reload),
        m.enabled
          ? action(`Disable ${m.name}`, async () => { await act(m, 'disable'); await reload(); },
            { cls: 'small', done: `${m.name} disabled.`, confirmText: `Disable ${m.name}? It is refused until enabled again.`, confirmAction: `Disable ${m.name}` })
          : action(`Enable ${m.name}`, async () => { await act(m, 'enable'); await reload(); }, { cls: 'small', done: `${m.name} enabled.` }),
        action(`Revoke ${m.name}`, async () => { await act(m, 'revoke'); await reload(); },
          { cls: 'small danger', typeName: m.name, confirmAction: `Revoke ${m.name}`, done: `${m.name} revoked.`,
            confirmText: `Revoke the AI agent ${m.name} for good? Its key never authenticates again.` }),
      ], m.name))
        : '',
    ];
  };
  const vaultId = (vault && vault.vaultId) || 'VAULT_ID';
  screen('AI agents',
    h('p', { class: 'muted' },
      'An AI agent (an assistant running signet mcp) manages projects, secrets and machines within its scopes. No scope lets it read a value: values go only to machines.'),
    may ? card('Waiting for approval',
      pending.length ? h('p', { class: 'muted small' },
        'Approve only the host that will run the agent, after comparing the fingerprint it printed. Other pending machines are approved on the Machines page.') : null,
      table('Machines that may be approved as agents', ['Name', 'Hostname', 'How it asked', 'Fingerprint', 'From', 'Asked', 'Actions'],
        pending.map((m) => [m.name, m.hostname, howBadge(m),
          h('code', { class: 'fingerprint id' }, m.fingerprint), mono(m.registeredIp), when(m.createdAt),
          approveButton(m, projects, reload)]),
        'No machine is waiting.')) : null,
    card('Agents', filteredTable({
      caption: 'AI agents',
      label: 'Search agents',
      headers: ['Name', 'State', 'Scopes', 'Projects', 'Fingerprint', 'Id', 'Actions'],
      items: agents,
      row,
      text: (a) => `${a.machine.name} ${a.machine.id} ${a.machine.fingerprint} ${a.scopes.join(' ')}`,
      filters: [{ label: 'Scope', options: [['', 'Any'], ...SCOPES.map(([s]) => [s, s])], test: (a, v) => a.scopes.includes(v) }],
      empty: 'No AI agents yet.',
    })),
    card('Add an agent',
      h('p', { class: 'muted small' }, 'On the agent\u2019s host, ask to join; it prints a fingerprint. Approve it above, then start the agent\u2019s server:'),
      command(`signet enroll --server ${location.origin} --vault ${vaultId} --request --name my-agent`, 'enroll command'),
      command('signet mcp', 'mcp command')));
  return undefined;
}
