// Tokens that let machines join: a one-use bootstrap token (the machine then waits for approval)
// and enrollment tokens (machines join approved, ephemeral, within the token's limits).

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, field, form, announce, copyable } from './page.js';

export async function tokensPage() {
  const [{ tokens = [] }, { projects = [] }] = await Promise.all([
    api.get('/v1/admin/tokens/enrollment'),
    api.get('/v1/admin/projects'),
  ]);
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
    h('div', { class: 'fieldrow' },
      field('Uses', { name: 'maxUses', type: 'number', min: 1, value: '1', id: 'tok-uses' }),
      field('Token valid for (hours)', { name: 'ttlHours', type: 'number', min: 1, value: '24', id: 'tok-ttl' }),
      field('Machines live for (hours)', { name: 'machineHours', type: 'number', min: 1, value: '24', id: 'tok-mttl' })),
    field('Source CIDR (optional)', { name: 'sourceCidr', autocomplete: 'off', placeholder: '10.0.0.0/8', id: 'tok-cidr' }),
    field('Hostname pattern (optional)', { name: 'hostnamePattern', autocomplete: 'off', placeholder: 'ci-*', id: 'tok-host' }),
  ], 'Create enrollment token', async (v, f) => {
    const body = {
      projectIds: Object.keys(v).filter((k) => k.startsWith('project:') && v[k]).map((k) => k.slice(8)),
      secretIds: [],
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
    enrollOut.replaceChildren(h('p', null, 'The token, shown only now:'), copyable(t.token),
      h('p', { class: 'muted small top-gap' }, 'Use it with ', mono('signet enroll --enrollment-token …'), '.'));
    document.getElementById('enroll-result')?.replaceWith(enrollOut);
    announce('Enrollment token created.');
  });
  enrollOut.id = 'enroll-result';
  const name = (id) => (projects.find((p) => p.id === id) || { name: id }).name;
  const state = (t) => (t.revokedAt ? badge('revoked', 'bad')
    : t.expiresAt && t.expiresAt < Date.now() ? badge('expired', 'warn')
      : t.maxUses && t.uses >= t.maxUses ? badge('used up', 'warn') : badge('active', 'ok'));
  screen('Tokens',
    card('Bootstrap a machine',
      h('p', null, 'A bootstrap token lets one machine register its key. You approve it afterwards.'),
      bootstrap, bootstrapOut),
    card('Enrollment tokens', enrollOut,
      table('Enrollment tokens', ['Name', 'State', 'Uses', 'Projects', 'Expires', ''],
        tokens.map((t) => [t.name || mono(t.id), state(t), `${t.uses} / ${t.maxUses ?? '∞'}`,
          (t.projectIds || []).map(name).join(', ') || '—', when(t.expiresAt),
          t.revokedAt ? '' : action('Revoke', async () => {
            await api.post(`/v1/admin/tokens/enrollment/${api.seg(t.id)}/revoke`, {});
            await tokensPage();
            announce('Token revoked.');
          }, { cls: 'small danger', confirmText: 'Revoke this enrollment token? Machines already enrolled stay.' })]),
        'No enrollment tokens.')),
    card('New enrollment token', create));
}
