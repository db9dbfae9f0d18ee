// Tokens that let machines join: a one-use bootstrap token (the machine then waits for approval)
// and enrollment tokens (machines join approved, ephemeral, within the token's limits).

import * as api from './api.js';
import { h, screen, card, when, badge, action, field, form, announce, copyable, filteredTable, idCell } from './page.js';

/** The command a machine runs to join with enrollment token `token`: every flag it needs. */
export function enrollCommand(vaultId, token) {
  return `signet enroll --server ${location.origin} --vault ${vaultId} --enrollment-token ${token}`;
}

/**
 * The field a refused enrollment token is about, from the server's words (crates/core/src/
 * enrollment.rs names no field in backticks), so the error sits next to it (issue 16, bug 7).
 */
function tokenField(e) {
  if (e.code !== 'malformed_request') return [];
  const m = e.message || '';
  if (/cidr/i.test(m)) return ['sourceCidr'];
  if (/hostname/i.test(m)) return ['hostnamePattern'];
  if (/maxUses/.test(m)) return ['maxUses'];
  if (/machine ttl/i.test(m)) return ['ttlHours', 'machineHours'];
  if (/project/i.test(m)) return [...document.querySelectorAll('#main input[name^="project:"]')].slice(0, 1).map((el) => el.name);
  return [];
}

export async function tokensPage() {
  const [{ tokens = [] }, { projects = [] }, vault] = await Promise.all([
    api.get('/v1/admin/tokens/enrollment'),
    api.get('/v1/admin/projects'),
    api.get('/v1/admin/vault').catch(() => null),
  ]);
  // Reading the list is open to every unscoped role; issuing and revoking is for admins: the
  // others see the list alone, never a button the server would refuse (issue 16, bug 6).
  const manage = api.can('manage_tokens');
  // Secrets its machines may be granted at once, by project: a ticked secret brings its project.
  const secretLists = manage ? await Promise.all(projects.map((p) =>
    api.post('/v1/admin/secrets/query', { projectId: p.id }).then((r) => [p, r.secrets || []], () => [p, []]))) : [];
  const secretProject = new Map();
  for (const [p, secrets] of secretLists) for (const sec of secrets) secretProject.set(sec.id, p.id);
  const bootstrapOut = h('div', { id: 'bootstrap-result', class: 'top-gap', 'aria-live': 'polite' });
  const bootstrap = action('Issue bootstrap token', async () => {
    const t = await api.post('/v1/admin/tokens/bootstrap', {});
    bootstrapOut.replaceChildren(
      h('p', null, 'Run this on the machine. It works once, until ', when(t.expiresAt), '.'),
      copyable(t.command),
      h('p', { class: 'muted small top-gap' }, 'The machine then shows up under Machines, waiting for your approval.'));
    announce('Bootstrap token issued.');
  }, { cls: 'primary' });

  const enrollOut = h('div', { 'aria-live': 'polite' });
  const projectBoxes = projects.map((p) => field(p.name, { type: 'checkbox', name: `project:${p.id}`, id: `tok-p-${p.id}` }));
  const create = form('stack', [
    field('Name', { name: 'name', autocomplete: 'off', id: 'tok-name' }),
    projectBoxes.length ? h('fieldset', null, h('legend', null, 'Projects its machines join'), projectBoxes) : null,
    secretProject.size ? h('fieldset', { id: 'tok-secrets' }, h('legend', null, 'Secrets its machines may read at once'),
      h('p', { class: 'muted small' }, 'A ticked secret also attaches its project.'),
      secretLists.filter(([, list]) => list.length).map(([p, list]) => list.map((sec) =>
        field(`${sec.name} (${p.name})`, { type: 'checkbox', name: `secret:${sec.id}`, id: `tok-s-${sec.id}` })))) : null,
    h('div', { class: 'fieldrow' },
      field('Uses', { name: 'maxUses', type: 'number', min: 1, value: '1', id: 'tok-uses' }),
      field('Token valid for (hours)', { name: 'ttlHours', type: 'number', min: 1, value: '24', id: 'tok-ttl' }),
      field('Machines live for (hours)', { name: 'machineHours', type: 'number', min: 1, value: '24', id: 'tok-mttl' })),
    field('Source CIDR (optional)', { name: 'sourceCidr', autocomplete: 'off', placeholder: '10.0.0.0/8', id: 'tok-cidr' }),
    field('Hostname pattern (optional)', { name: 'hostnamePattern', autocomplete: 'off', placeholder: 'ci-*', id: 'tok-host' }),
  ], 'Create enrollment token', async (v, f) => {
    const secretIds = Object.keys(v).filter((k) => k.startsWith('secret:') && v[k]).map((k) => k.slice(7));
    const projectIds = new Set(Object.keys(v).filter((k) => k.startsWith('project:') && v[k]).map((k) => k.slice(8)));
    for (const id of secretIds) projectIds.add(secretProject.get(id));
    const body = {
      projectIds: [...projectIds],
      secretIds,
      maxUses: Number(v.maxUses) || 1,
      ttlSecs: Math.round((Number(v.ttlHours) || 24) * 3600),
      machineTtlSecs: Math.round((Number(v.machineHours) || 24) * 3600),
    };
    if (v.name.trim()) body.name = v.name.trim();
    if (v.sourceCidr.trim()) body.sourceCidr = v.sourceCidr.trim();
    if (v.hostnamePattern.trim()) body.hostnamePattern = v.hostnamePattern.trim();
    const t = await api.post('/v1/admin/tokens/enrollment', body);
    f.reset();
    await tokensPage();
    enrollOut.replaceChildren(h('p', null, 'The token is shown only now. Run this on each machine:'),
      vault ? copyable(enrollCommand(vault.vaultId, t.token)) : copyable(t.token),
      h('p', { class: 'muted small top-gap' }, 'Machines that join with it are approved at once',
        secretIds.length ? ` and read the ${secretIds.length} secret${secretIds.length === 1 ? '' : 's'} you ticked.` : '.'));
    document.getElementById('enroll-result')?.replaceWith(enrollOut);
    announce('Enrollment token created.');
  }, { fieldsFor: tokenField });
  enrollOut.id = 'enroll-result';
  const name = (id) => (projects.find((p) => p.id === id) || { name: id }).name;
  const state = (t) => (t.revokedAt ? badge('revoked', 'bad')
    : t.expiresAt && t.expiresAt < Date.now() ? badge('expired', 'warn')
      : t.maxUses && t.uses >= t.maxUses ? badge('used up', 'warn') : badge('active', 'ok'));
  const list = filteredTable({
    caption: 'Enrollment tokens',
    label: 'Search tokens',
    headers: ['Name', 'Id', 'State', 'Uses', 'Projects', 'Expires', 'Actions'],
    items: tokens,
    text: (t) => `${t.name || ''} ${t.id} ${(t.projectIds || []).map(name).join(' ')}`,
    filters: [{ label: 'Filter by state', options: [['', 'Any state'], ['active', 'active'], ['used up', 'used up'], ['expired', 'expired'], ['revoked', 'revoked']],
      test: (t, v) => state(t).textContent === v }],
    empty: 'No enrollment tokens.',
    row: (t) => [t.name || '—', idCell(t.id, `id of token ${t.name || t.id}`), state(t), `${t.uses} / ${t.maxUses ?? '∞'}`,
      (t.projectIds || []).map(name).join(', ') || '—', when(t.expiresAt),
      t.revokedAt || !manage ? '' : action(`Revoke ${t.name || 'token'}`, async () => {
        await api.post(`/v1/admin/tokens/enrollment/${api.seg(t.id)}/revoke`, {});
        await tokensPage();
        announce('Token revoked.');
      }, { cls: 'small danger', confirmText: 'Revoke this enrollment token? Machines already enrolled stay.', confirmAction: `Revoke ${t.name || 'token'}` })],
  });
  const role = (api.session.user && api.session.user.role) || '';
  screen('Tokens',
    manage ? card('Bootstrap a machine',
      h('p', null, 'A bootstrap token lets one machine register its key. You approve it afterwards.'),
      bootstrap, bootstrapOut) : h('p', { class: 'callout', id: 'tokens-read-only' },
      `Your role (${role}) can see the enrollment tokens; issuing and revoking them is for administrators.`),
    card('Enrollment tokens', enrollOut, list),
    manage ? card('New enrollment token', create) : null);
}
