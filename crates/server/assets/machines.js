// Machines: approve what asked to join (after comparing the key fingerprint), then give each
// machine projects and secrets. Names and hostnames are chosen by the machine, so they are text.

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, field, announce, clear, button, modal, fieldError, filteredTable, idCell, copyButton, fail } from './page.js';
import { howBadge as how, howText } from './enrollment.js';

/**
 * Approval of a pending machine. A tokenless request must be approved by typing (or pasting)
 * the fingerprint the machine printed: the form starts empty, like `signet machine approve`,
 * and the server checks it. A token-vouched machine is confirmed with its fingerprint shown.
 */
function approve(m, after) {
  if (m.enrolledVia !== 'request') {
    return action(`Approve ${m.name}`, async () => { await act(m, 'approve', { fingerprint: m.fingerprint }); await after(); },
      { cls: 'small primary', done: `${m.name} approved.`, confirmText: `Approve ${m.name}? Its key fingerprint is ${m.fingerprint}.`, confirmAction: `Approve ${m.name}` });
  }
  return button(`Approve ${m.name}…`, () => {
    const fp = field('Fingerprint the machine printed', { autocomplete: 'off', spellcheck: 'false', id: 'approve-fingerprint', class: 'mono' },
      { hint: 'Type or paste it from the machine, not from this page.' });
    const go = h('button', { type: 'submit', class: 'primary' }, `Approve ${m.name}`);
    const f = h('form', { class: 'stack' },
      h('p', null, `${m.name} (${m.hostname}) asked to join without a token, from `, mono(m.registeredIp), '.'), fp);
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const typed = fp.control.value.trim();
      if (typed !== m.fingerprint) {
        fieldError(fp, typed ? 'This is not the fingerprint of this request. Check with the machine; do not approve a key you cannot vouch for.'
          : 'Type or paste the fingerprint the machine printed.');
        fp.control.focus();
        return;
      }
      go.disabled = true;
      try {
        await act(m, 'approve', { fingerprint: typed });
        d.close();
        await after();
        announce(`${m.name} approved.`);
      } catch (e) {
        fail(e);
      } finally {
        go.disabled = false;
      }
    });
    go.addEventListener('click', () => f.requestSubmit());
    const d = modal(`Approve ${m.name}`, f, [button('Cancel', () => d.close()), go]);
    fp.control.focus();
  }, 'small primary');
}

function deny(m, after, cls = 'small danger') {
  return action(`Deny ${m.name}`, async () => { await act(m, 'deny'); await after(); },
    { cls, done: `${m.name} denied.`, confirmText: `Deny ${m.name}? Its key can never join; the machine must enroll again with a new key.`, confirmAction: `Deny ${m.name}` });
}

function statusBadge(m) {
  if (m.status === 'approved') return m.enabled ? badge('active', 'ok') : badge('disabled', 'warn');
  if (m.status === 'pending') return badge('pending', 'warn');
  return badge(m.status, 'bad');
}

const copyFp = (m) => copyButton(m.fingerprint, 'fingerprint');

const act = (m, verb, body = {}) => api.post(`/v1/admin/machines/${api.seg(m.id)}/${verb}`, body);

export async function machinesPage(id) {
  if (id) return machinePage(id);
  const { machines = [] } = await api.get('/v1/admin/machines');
  const pending = machines.filter((m) => m.status === 'pending');
  const reload = () => machinesPage();
  const counts = `${machines.length} machine${machines.length === 1 ? '' : 's'}${pending.length ? `, ${pending.length} waiting for approval` : ''}.`;
  screen('Machines',
    card('Waiting for approval',
      pending.length ? h('p', { class: 'muted small' },
        'Compare each fingerprint with the one the machine printed before approving.') : null,
      table('Machines waiting for approval', ['Name', 'Hostname', 'How it asked', 'Fingerprint', 'From', 'Asked', ''],
        pending.map((m) => [h('span', { class: 'nowrap' }, m.name), m.hostname, how(m), h('code', { class: 'fingerprint id' }, m.fingerprint), mono(m.registeredIp), when(m.createdAt),
          api.can('manage_machines') ? h('div', { class: 'actions' }, approve(m, reload), deny(m, reload)) : '']),
        'No machine is waiting.')),
    card('All machines', machines.length ? h('p', { class: 'muted small', id: 'machine-count' }, counts) : null,
      filteredTable({
        caption: 'Machines',
        label: 'Search machines',
        headers: ['Name', 'Hostname', 'Status', 'How it joined', 'Kind', 'Projects', 'Secrets', 'Enrolled', ''],
        items: machines,
        text: (m) => `${m.name} ${m.hostname} ${m.id} ${m.fingerprint} ${m.registeredIp}`,
        filters: [{ label: 'Status', options: [['', 'All'], ['pending', 'Pending'], ['approved', 'Approved'], ['denied', 'Denied'], ['revoked', 'Revoked']],
          test: (m, v) => m.status === v }],
        row: (m) => [
          h('a', { href: `#/machines/${encodeURIComponent(m.id)}` }, m.name),
          m.hostname, statusBadge(m), how(m), m.kind, String(m.projects.length), String(m.grants.length), when(m.createdAt),
          h('a', { href: `#/machines/${encodeURIComponent(m.id)}` }, `Manage ${m.name}`),
        ],
        empty: 'No machines yet. Issue a bootstrap token on the Tokens page to add one.',
      })));
  return undefined;
}

async function machinePage(id) {
  const [m, { projects = [] }] = await Promise.all([
    api.get(`/v1/admin/machines/${api.seg(id)}`),
    api.get('/v1/admin/projects'),
  ]);
  const reload = () => machinePage(id);
  // Only a role that may manage machines is offered what changes one (issue 16, bug 6).
  const manage = api.can('manage_machines');
  const lifecycle = [];
  if (!manage) { /* read-only: no lifecycle buttons */ } else if (m.status === 'pending') {
    lifecycle.push(approve(m, reload));
    lifecycle.push(deny(m, reload, 'danger'));
  }
  if (manage && m.status === 'approved') {
    lifecycle.push(m.enabled
      ? action(`Disable ${m.name}`, async () => { await act(m, 'disable'); await reload(); },
        { done: `${m.name} disabled.`, confirmText: `Disable ${m.name}? It is refused until enabled again.`, confirmAction: `Disable ${m.name}` })
      : action(`Enable ${m.name}`, async () => { await act(m, 'enable'); await reload(); }, { done: `${m.name} enabled.` }));
  }
  if (manage && m.status !== 'revoked') {
    lifecycle.push(action(`Revoke ${m.name}`, async () => { await act(m, 'revoke'); await reload(); },
      { cls: 'danger', confirmAction: `Revoke ${m.name}`, done: `${m.name} revoked.`, confirmText: `Revoke ${m.name}? It will never authenticate again.` }));
  }

  const attached = projects.filter((p) => m.projects.includes(p.id));
  const detached = projects.filter((p) => !m.projects.includes(p.id));
  const attachSel = field('Project', { id: 'attach-project', options: detached.map((p) => [p.id, p.name]) }, { tag: 'select' });
  const projectsCard = card('Projects',
    table('Attached projects', ['Project', ''], attached.map((p) => [p.name, !manage ? '' :
      action(`Detach from ${p.name}`, async () => { await act(m, 'detach', { projectId: p.id }); await reload(); }, {
        cls: 'small danger', done: `Detached from ${p.name}.`, confirmAction: `Detach ${m.name} from ${p.name}`,
        confirmText: `Detach ${m.name} from ${p.name}? It can no longer read any of that project\u2019s secrets; its grants there go.`,
      })]),
    'Not attached to any project.'),
    manage && detached.length ? h('div', { class: 'inline-form' }, attachSel,
      action('Attach', async () => { await act(m, 'attach', { projectId: attachSel.control.value }); await reload(); }, { done: 'Attached.' })) : null);

  const grantsList = h('ul', { class: 'checklist' });
  const grantsCard = card('Secrets it may read',
    h('p', { class: 'muted small' }, 'A machine reads a secret when it is attached to the secret\'s project and granted the secret.'),
    grantsList);
  const secretLists = await Promise.all(attached.map((p) =>
    api.post('/v1/admin/secrets/query', { projectId: p.id }).then((r) => [p, r.secrets || []], () => [p, []])));
  for (const [p, secrets] of secretLists) {
    for (const s of secrets) {
      const granted = m.grants.includes(s.id);
      const boxId = `grant-${s.id}`;
      const box = h('input', { type: 'checkbox', id: boxId, checked: granted, 'data-secret': s.id, disabled: !manage });
      box.addEventListener('change', async () => {
        box.disabled = true;
        try {
          await act(m, box.checked ? 'grant' : 'ungrant', { secretIds: [s.id] });
          announce(box.checked ? `Granted ${s.name}.` : `Took back ${s.name}.`);
        } catch (e) {
          box.checked = !box.checked;
          announce(e.message, 'error');
        } finally {
          box.disabled = false;
        }
      });
      grantsList.appendChild(h('li', { class: 'field check' }, box, h('label', { for: boxId }, `${s.name} `, h('span', { class: 'muted small' }, `(${p.name})`))));
    }
  }
  if (!grantsList.children.length) clear(grantsList).appendChild(h('li', { class: 'muted' }, 'Attach a project that has secrets first.'));

  screen(m.name,
    h('p', null, h('a', { href: '#/machines' }, '← All machines')),
    card('Details', h('dl', { class: 'props' },
      h('dt', null, 'Status'), h('dd', null, statusBadge(m)),
      h('dt', null, 'Hostname'), h('dd', null, m.hostname),
      h('dt', null, 'Id'), h('dd', null, idCell(m.id, 'machine id')),
      h('dt', null, 'Fingerprint'), h('dd', null, h('code', { class: 'fingerprint id' }, m.fingerprint), ' ', copyFp(m)),
      h('dt', null, 'Kind'), h('dd', null, m.kind, m.expiresAt ? [' · expires ', when(m.expiresAt)] : null),
      h('dt', null, 'Enrolled via'), h('dd', null, how(m), ' ', h('span', { class: 'muted small' }, howText(m.enrolledVia))),
      h('dt', null, 'Registered from'), h('dd', null, mono(m.registeredIp)),
      h('dt', null, 'Allowed sources'), h('dd', null, m.allowedCidrs.length ? m.allowedCidrs.join(', ') : 'any'),
      h('dt', null, 'Created'), h('dd', null, when(m.createdAt))),
    lifecycle.length ? h('div', { class: 'actions top-gap' }, lifecycle) : null),
    projectsCard, grantsCard);
  return undefined;
}
