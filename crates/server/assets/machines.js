// Machines: approve what asked to join (after comparing the key fingerprint), then give each
// machine projects and secrets. Names and hostnames are chosen by the machine, so they are text.

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, field, announce, clear } from './page.js';

function statusBadge(m) {
  if (m.status === 'approved') return m.enabled ? badge('active', 'ok') : badge('disabled', 'warn');
  if (m.status === 'pending') return badge('pending', 'warn');
  return badge(m.status, 'bad');
}

const act = (m, verb, body = {}) => api.post(`/v1/admin/machines/${api.seg(m.id)}/${verb}`, body);

export async function machinesPage(id) {
  if (id) return machinePage(id);
  const { machines = [] } = await api.get('/v1/admin/machines');
  const pending = machines.filter((m) => m.status === 'pending');
  const others = machines.filter((m) => m.status !== 'pending');
  const reload = () => machinesPage();
  screen('Machines',
    card('Waiting for approval',
      pending.length ? h('p', { class: 'muted small' },
        'Compare each fingerprint with the one the machine printed before approving.') : null,
      table('Machines waiting for approval', ['Name', 'Hostname', 'Fingerprint', 'From', 'Asked', 'Decision'],
        pending.map((m) => [m.name, m.hostname, h('code', { class: 'fingerprint' }, m.fingerprint), mono(m.registeredIp), when(m.createdAt),
          h('div', { class: 'actions' },
            action('Approve', async () => {
              await act(m, 'approve', { fingerprint: m.fingerprint });
              await reload();
              announce(`${m.name} approved.`);
            }, { cls: 'small primary', confirmText: `Approve ${m.name}? Its key fingerprint is ${m.fingerprint}.` }),
            action('Deny', async () => {
              await act(m, 'deny');
              await reload();
              announce(`${m.name} denied.`);
            }, { cls: 'small danger' }))]),
        'No machine is waiting.')),
    card('All machines', table('Machines', ['Name', 'Hostname', 'Status', 'Kind', 'Projects', 'Secrets', 'Enrolled', ''],
      others.map((m) => [
        h('a', { href: `#/machines/${encodeURIComponent(m.id)}` }, m.name),
        m.hostname, statusBadge(m), m.kind, String(m.projects.length), String(m.grants.length), when(m.createdAt),
        h('a', { href: `#/machines/${encodeURIComponent(m.id)}` }, 'Manage'),
      ]), 'No machines yet. Issue a bootstrap token on the Tokens page to add one.')));
}

async function machinePage(id) {
  const [m, { projects = [] }] = await Promise.all([
    api.get(`/v1/admin/machines/${api.seg(id)}`),
    api.get('/v1/admin/projects'),
  ]);
  const reload = () => machinePage(id);
  const lifecycle = [];
  if (m.status === 'pending') {
    lifecycle.push(action('Approve', async () => { await act(m, 'approve', { fingerprint: m.fingerprint }); await reload(); },
      { cls: 'primary', done: `${m.name} approved.`, confirmText: `Approve ${m.name}? Its key fingerprint is ${m.fingerprint}.` }));
    lifecycle.push(action('Deny', async () => { await act(m, 'deny'); await reload(); }, { cls: 'danger', done: `${m.name} denied.` }));
  }
  if (m.status === 'approved') {
    lifecycle.push(m.enabled
      ? action('Disable', async () => { await act(m, 'disable'); await reload(); }, { done: `${m.name} disabled.` })
      : action('Enable', async () => { await act(m, 'enable'); await reload(); }, { done: `${m.name} enabled.` }));
  }
  if (m.status !== 'revoked') {
    lifecycle.push(action('Revoke', async () => { await act(m, 'revoke'); await reload(); },
      { cls: 'danger', done: `${m.name} revoked.`, confirmText: `Revoke ${m.name}? It will never authenticate again.` }));
  }

  const attached = projects.filter((p) => m.projects.includes(p.id));
  const detached = projects.filter((p) => !m.projects.includes(p.id));
  const attachSel = field('Project', { id: 'attach-project', options: detached.map((p) => [p.id, p.name]) }, { tag: 'select' });
  const projectsCard = card('Projects',
    table('Attached projects', ['Project', ''], attached.map((p) => [p.name,
      action('Detach', async () => { await act(m, 'detach', { projectId: p.id }); await reload(); }, { cls: 'small', done: `Detached from ${p.name}.` })]),
    'Not attached to any project.'),
    detached.length ? h('div', { class: 'inline-form' }, attachSel,
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
      const box = h('input', { type: 'checkbox', id: boxId, checked: granted, 'data-secret': s.id });
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
      h('dt', null, 'Id'), h('dd', null, mono(m.id)),
      h('dt', null, 'Fingerprint'), h('dd', null, h('code', { class: 'fingerprint' }, m.fingerprint)),
      h('dt', null, 'Kind'), h('dd', null, m.kind, m.expiresAt ? [' · expires ', when(m.expiresAt)] : null),
      h('dt', null, 'Enrolled via'), h('dd', null, m.enrolledVia),
      h('dt', null, 'Registered from'), h('dd', null, mono(m.registeredIp)),
      h('dt', null, 'Allowed sources'), h('dd', null, m.allowedCidrs.length ? m.allowedCidrs.join(', ') : 'any'),
      h('dt', null, 'Created'), h('dd', null, when(m.createdAt))),
    lifecycle.length ? h('div', { class: 'actions top-gap' }, lifecycle) : null),
    projectsCard, grantsCard);
  return undefined;
}
