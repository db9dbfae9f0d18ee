// People: create or invite them, set their role (and, below admin, the projects they see),
// suspend, activate or remove them.

import * as api from './api.js';
import { h, screen, card, table, when, badge, action, field, form, announce, copyable, button, modal, filteredTable, idCell, fieldError, explain } from './page.js';
import { qrImage } from './auth.js';

const ROLES = ['viewer', 'developer', 'admin', 'owner'];

/** The roles this person may hand out: up to admin, and owner only for owners (`may_grant`). */
const grantable = () => ROLES.filter((r) => r !== 'owner' || api.can('manage_owners'));

function projectPicker(projects, chosen, prefix) {
  return h('fieldset', { class: 'project-scope' }, h('legend', null, 'Projects (none ticked = all projects)'),
    projects.map((p) => field(p.name, { type: 'checkbox', name: `project:${p.id}`, id: `${prefix}-${p.id}`, checked: Array.isArray(chosen) && chosen.includes(p.id) })));
}

function scope(v) {
  const ids = Object.keys(v).filter((k) => k.startsWith('project:') && v[k]).map((k) => k.slice(8));
  return ids.length ? ids : undefined;
}

/** How often an open Users page looks for invitations accepted elsewhere, in ms. */
const WATCH_MS = 5000;

export async function usersPage() {
  const [{ projects = [] }] = await Promise.all([api.get('/v1/admin/projects')]);
  const me = api.session.user || {};
  const projectName = (id) => (projects.find((p) => p.id === id) || { name: id }).name;
  const people = h('div', { id: 'users-list' });
  const pending = h('div', { id: 'invites-list' });
  let shown = '';

  /** Re-reads people and invitations and redraws both lists (never the forms being typed in). */
  async function lists() {
    const [{ users = [] }, invites] = await Promise.all([
      api.get('/v1/admin/users'),
      api.get('/v1/admin/users/invites').then((r) => r.invites || [], () => []),
    ]);
    // Redraw only on a change, so a poll never moves focus or a screen reader's place.
    const key = JSON.stringify([users, invites]);
    if (key === shown) return;
    shown = key;
    const statusBadge = (u) => badge(u.status, u.status === 'active' ? 'ok' : 'warn');
    // The search and filters keep what was typed when a poll redraws the list.
    const kept = [...people.querySelectorAll('[data-filter]')].map((el) => [el.dataset.filter, el.value]);
    const focused = document.activeElement && people.contains(document.activeElement) ? document.activeElement.dataset.filter : null;
    people.replaceChildren(filteredTable({
      caption: 'Users',
      label: 'Search people',
      headers: ['Person', 'Email', 'Role', 'Projects', 'Status', 'Created', 'Actions'],
      items: users,
      text: (u) => `${u.username} ${u.email} ${u.id}`,
      filters: [
        { label: 'Filter by role', options: [['', 'Any role'], ...ROLES.map((r) => [r, r])], test: (u, v) => u.role === v },
        { label: 'Filter by status', options: [['', 'Any status'], ['active', 'active'], ['suspended', 'suspended']], test: (u, v) => u.status === v },
      ],
      empty: 'No people yet.',
      row: (u) => [
      // The id under the name, not in a column of its own: a whole UUID, unwrapped, beside
      // the action buttons pushed the table wider than a 1280 px page.
      h('div', { class: 'person' },
        h('span', null, u.username, u.id === me.id ? h('span', { class: 'muted small' }, ' (you)') : null),
        idCell(u.id, `id of ${u.username}`)),
      u.email, badge(u.role),
      u.projects ? u.projects.map(projectName).join(', ') : 'all',
      statusBadge(u), when(u.createdAt),
      // Nobody acts on themselves here, and only owners on owners (an admin's press would be
      // refused: issue 16, bug 6).
      u.id === me.id || (u.role === 'owner' && !api.can('manage_owners')) ? '' : h('div', { class: 'actions' },
        button(`Role of ${u.username}…`, () => roleDialog(u, projects, lists), 'small'),
        u.status === 'suspended'
          ? action(`Activate ${u.username}`, async () => { await api.post(`/v1/admin/users/${api.seg(u.id)}/activate`, {}); await lists(); }, { cls: 'small', done: `${u.username} activated.` })
          : action(`Suspend ${u.username}`, async () => { await api.post(`/v1/admin/users/${api.seg(u.id)}/suspend`, {}); await lists(); }, { cls: 'small', confirmAction: `Suspend ${u.username}`, done: `${u.username} suspended.`, confirmText: `Suspend ${u.username}? Their sessions and keys stop working.` }),
        action(`Remove ${u.username}`, async () => { await api.post(`/v1/admin/users/${api.seg(u.id)}/delete`, {}); await lists(); }, { cls: 'small danger', confirmAction: `Remove ${u.username}`, done: `${u.username} removed.`, confirmText: `Remove ${u.username} for good?` })),
      ],
    }));
    for (const [name, value] of kept) {
      const el = people.querySelector(`[data-filter="${CSS.escape(name)}"]`);
      if (el && value) { el.value = value; el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input')); }
    }
    if (focused) people.querySelector(`[data-filter="${CSS.escape(focused)}"]`)?.focus();
    const open = invites.filter((i) => i.status === 'pending');
    pending.replaceChildren(open.length
      ? table('Pending invitations', ['Email', 'Role', 'Expires', 'Actions'], open.map((i) => [i.email, badge(i.role), when(i.expiresAt),
        action(`Revoke invitation for ${i.email}`, async () => { await api.post(`/v1/admin/users/invites/${api.seg(i.id)}/revoke`, {}); await lists(); },
          { cls: 'small danger', confirmAction: `Revoke invitation for ${i.email}`, done: 'Invitation revoked.', confirmText: `Revoke the invitation for ${i.email}? Its link stops working.` })]))
      : h('p', { class: 'muted' }, 'No invitation is waiting to be accepted.'));
  }

  const inviteOut = h('div', { 'aria-live': 'polite', id: 'invite-result' });
  const invite = form('stack', [
    field('Email', { name: 'email', type: 'email', required: true, autocomplete: 'off', id: 'invite-email' }),
    field('Role', { name: 'role', id: 'invite-role', options: grantable() }, { tag: 'select' }),
    projects.length ? projectPicker(projects, null, 'invite-p') : null,
  ], 'Create invitation', async (v, f) => {
    const body = { email: v.email.trim(), role: v.role };
    const p = scope(v);
    if (p && (v.role === 'developer' || v.role === 'viewer')) body.projects = p;
    const r = await api.post('/v1/admin/users/invite', body);
    f.reset();
    inviteOut.replaceChildren(h('p', null, `Send this link to ${body.email}. It works once, until `, when(r.expiresAt), '.'), copyable(r.inviteUrl));
    await lists();
    announce('Invitation created.');
  });

  await lists();
  screen('Users',
    card('People', people),
    card('Pending invitations', h('p', { class: 'muted small' }, 'An accepted invitation moves its person to People above, without reloading.'), pending),
    card('Invite someone', h('p', { class: 'muted small' }, 'They choose their own username and password and set up their authenticator.'), invite, inviteOut),
    card('Create a user directly', createForm(projects, lists)));
  // While this page is open, pick up invitations accepted elsewhere. The timer ends itself once
  // the page is gone (another page, sign-out).
  const timer = setInterval(() => {
    if (!people.isConnected) { clearInterval(timer); return; }
    if (document.visibilityState === 'visible') lists().catch(() => {});
  }, WATCH_MS);
}

function createForm(projects, reload) {
  const out = h('div', { 'aria-live': 'polite' });
  const f = form('stack', [
    field('Username', { name: 'username', required: true, autocomplete: 'off', id: 'cu-username' }),
    field('Email', { name: 'email', type: 'email', required: true, autocomplete: 'off', id: 'cu-email' }),
    field('Initial password', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', id: 'cu-password' }, { hint: 'At least 12 characters; tell it to them over a separate channel.' }),
    field('Role', { name: 'role', id: 'cu-role', options: grantable() }, { tag: 'select' }),
  ], 'Create user', async (v, form_) => {
    const r = await api.post('/v1/admin/users', { username: v.username.trim(), email: v.email.trim(), password: v.password, role: v.role });
    form_.reset();
    await reload();
    // The QR code is drawn by the server (no third party sees the seed), for the person to
    // scan here; their first sign-in with a code from the app confirms it.
    const d = modal(`${r.user.username} created`, h('div', null,
      h('p', { class: 'callout' }, 'Give these to them now; they are shown only once.'),
      r.qrSvg ? [h('p', null, `${r.user.username} scans this QR code with their authenticator app:`), qrImage(r.qrSvg)] : null,
      h('p', { class: 'muted small' }, 'Their first sign-in with a code from the app confirms it.'),
      h('h3', null, 'otpauth link'), copyable(r.otpauthUri),
      h('h3', null, 'Recovery codes'), h('ol', { class: 'codes' }, (r.recoveryCodes || []).map((c) => h('li', null, c)))),
    [button('Done', () => d.close(), 'primary')]);
  });
  return h('div', null, f, out);
}

function roleDialog(u, projects, reload) {
  const role = field('Role', { name: 'role', id: 'role-select', options: grantable() }, { tag: 'select' });
  role.control.value = u.role;
  const picker = projects.length ? projectPicker(projects, u.projects, 'role-p') : null;
  const save = h('button', { type: 'button', class: 'primary' }, 'Save role');
  const body = h('form', { class: 'stack' }, role, picker,
    h('p', { class: 'muted small' }, 'Project scope applies to developers and viewers.'));
  const d = modal(`Role of ${u.username}`, body, [button('Cancel', () => d.close()), save]);
  save.addEventListener('click', async () => {
    save.disabled = true;
    const v = {};
    for (const el of body.elements) if (el.name) v[el.name] = el.type === 'checkbox' ? el.checked : el.value;
    const payload = { role: v.role };
    const p = scope(v);
    if (p && (v.role === 'developer' || v.role === 'viewer')) payload.projects = p;
    fieldError(role, '');
    try {
      await api.post(`/v1/admin/users/${api.seg(u.id)}/role`, payload);
      d.close();
      await reload();
      announce(`${u.username} is now ${v.role}.`);
    } catch (e) {
      if (e.status === 401) return;
      // Next to the role, in plain words, with the dialog still open (issue 16, bug 7): the
      // last owner, a role above the person's own.
      fieldError(role, explain(e).text);
      role.control.focus();
    } finally {
      save.disabled = false;
    }
  });
}

