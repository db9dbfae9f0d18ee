// Access policies of a project (create, edit, delete) and the policy selector of a secret.
// Every axis is off unless its fields are filled in; the server checks each rule.

import * as api from './api.js';
import { h, card, table, field, form, announce, action, button, modal, fail, idCell } from './page.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

let seq = 0;

/** The axes a policy has on, in a few words. */
export function describe(r = {}) {
  const on = [];
  if (r.window) on.push(`${r.window.start}–${r.window.end} ${r.window.timeZone}${r.window.days && r.window.days.length ? ` ${r.window.days.join(',')}` : ''}`);
  if (r.cidrs) on.push(`from ${r.cidrs.join(', ')}`);
  if (r.perMinute) on.push(`${r.perMinute}/min`);
  if (r.perDay) on.push(`${r.perDay}/day`);
  if (r.cosign) on.push(`co-sign ${r.cosign.machineId} within ${r.cosign.withinSeconds}s`);
  if (r.expiresAt) on.push(`expires ${r.expiresAt}`);
  if (r.maxReads) on.push(`at most ${r.maxReads} reads`);
  if (r.rotateAfterReads) on.push(`rotate after ${r.rotateAfterReads} reads`);
  return on.length ? on.join('; ') : 'no rules (every read passes)';
}

/** The form fields for every axis, filled from `r`; `read()` gives the rules to send. */
function rulesEditor(r = {}) {
  const n = ++seq;
  const w = r.window || {};
  const start = field('Window opens (HH:MM)', { id: `pol-start-${n}`, value: w.start || '', placeholder: '09:00', autocomplete: 'off' });
  const end = field('Window closes (HH:MM)', { id: `pol-end-${n}`, value: w.end || '', placeholder: '17:00', autocomplete: 'off' },
    { hint: 'An end before the start wraps past midnight and counts on the day the window opened.' });
  const tz = field('Time zone', { id: `pol-tz-${n}`, value: w.timeZone || '', placeholder: 'Europe/Oslo', autocomplete: 'off' });
  const days = DAYS.map((d) => field(d, { type: 'checkbox', id: `pol-day-${d}-${n}`, checked: (w.days || []).includes(d) }));
  const cidrs = field('Networks (CIDRs, comma-separated)', { id: `pol-cidrs-${n}`, value: (r.cidrs || []).join(', '), autocomplete: 'off' });
  const perMinute = field('Reads per minute, per machine', { id: `pol-min-${n}`, type: 'number', min: '1', value: r.perMinute ?? '' });
  const perDay = field('Reads per day, per machine', { id: `pol-day-${n}`, type: 'number', min: '1', value: r.perDay ?? '' });
  const cosign = field('Co-signing machine id', { id: `pol-cosign-${n}`, value: r.cosign ? r.cosign.machineId : '', autocomplete: 'off' });
  const within = field('Co-sign within (seconds)', { id: `pol-within-${n}`, type: 'number', min: '1', value: r.cosign ? r.cosign.withinSeconds : '' });
  const expires = field('Expires at (RFC 3339)', { id: `pol-expires-${n}`, value: r.expiresAt || '', placeholder: '2027-01-01T00:00:00Z', autocomplete: 'off' });
  const maxReads = field('Maximum reads (all machines)', { id: `pol-max-${n}`, type: 'number', min: '1', value: r.maxReads ?? '' });
  const rotate = field('Rotate after reads', { id: `pol-rotate-${n}`, type: 'number', min: '1', value: r.rotateAfterReads ?? '' });
  const num = (f) => (f.control.value.trim() === '' ? undefined : Number(f.control.value));
  const el = h('div', { class: 'stack-sm' },
    h('fieldset', null, h('legend', null, 'Time window'), start, end, tz, h('div', { class: 'actions' }, days)),
    h('fieldset', null, h('legend', null, 'Networks'), cidrs),
    h('fieldset', null, h('legend', null, 'Rate caps'), perMinute, perDay),
    h('fieldset', null, h('legend', null, 'Co-sign'), cosign, within),
    h('fieldset', null, h('legend', null, 'Expiry and reads'), expires, maxReads, rotate));
  const read = () => {
    const rules = {};
    if (start.control.value.trim() || end.control.value.trim() || tz.control.value.trim()) {
      rules.window = {
        start: start.control.value.trim(),
        end: end.control.value.trim(),
        timeZone: tz.control.value.trim(),
        days: DAYS.filter((_, i) => days[i].control.checked),
      };
    }
    const nets = cidrs.control.value.split(',').map((c) => c.trim()).filter(Boolean);
    if (nets.length) rules.cidrs = nets;
    if (num(perMinute) !== undefined) rules.perMinute = num(perMinute);
    if (num(perDay) !== undefined) rules.perDay = num(perDay);
    if (cosign.control.value.trim()) rules.cosign = { machineId: cosign.control.value.trim(), withinSeconds: num(within) ?? 0 };
    if (expires.control.value.trim()) rules.expiresAt = expires.control.value.trim();
    if (num(maxReads) !== undefined) rules.maxReads = num(maxReads);
    if (num(rotate) !== undefined) rules.rotateAfterReads = num(rotate);
    return rules;
  };
  return { el, read };
}

function editDialog(project, p, reload) {
  const name = field('Name', { id: `pol-rename-${++seq}`, value: p.name, autocomplete: 'off' });
  const editor = rulesEditor(p.rules);
  const d = modal(`Edit policy ${p.name}`, h('div', { class: 'stack' }, name, editor.el), [
    button('Cancel', () => d.close()),
    button('Save', async () => {
      try {
        await api.post(`/v1/admin/projects/${api.seg(project.id)}/policies/${api.seg(p.id)}/update`,
          { name: name.control.value.trim(), rules: editor.read() });
        d.close();
        await reload();
        announce(`Policy ${name.control.value.trim()} saved.`);
      } catch (e) {
        fail(e);
      }
    }, 'primary'),
  ]);
}

/** The Policies section of a project: list, create, edit, delete. */
export async function policiesCard(project, reload) {
  const { policies = [] } = await api.get(`/v1/admin/projects/${api.seg(project.id)}/policies`);
  const editor = rulesEditor();
  const create = form('stack', [
    field('Policy name', { name: 'name', required: true, autocomplete: 'off', id: 'policy-name' }),
    editor.el,
  ], 'Create policy', async (v, f) => {
    const p = await api.post(`/v1/admin/projects/${api.seg(project.id)}/policies`, { name: v.name.trim(), rules: editor.read() });
    f.reset();
    await reload();
    announce(`Policy ${p.name} created.`);
  });
  const rows = policies.map((p) => [
    p.name,
    describe(p.rules),
    String(p.boundSecrets),
    idCell(p.id, `id of ${p.name}`),
    h('div', { class: 'actions' },
      button(`Edit ${p.name}`, () => editDialog(project, p, reload), 'small'),
      action(`Delete policy ${p.name}`, async () => {
        await api.post(`/v1/admin/projects/${api.seg(project.id)}/policies/${api.seg(p.id)}/delete`, {});
        await reload();
        announce(`Policy ${p.name} deleted.`);
      }, { cls: 'small danger', confirmAction: `Delete policy ${p.name}`, confirmText: `Delete the policy ${p.name}?` })),
  ]);
  return {
    policies,
    section: h('div', null,
      card(`Policies in ${project.name}`, table('Policies', ['Name', 'Rules', 'Secrets', 'Id', 'Actions'], rows,
        'No policies yet. A policy limits when, from where and how often machines read the secrets bound to it.')),
      card('Create a policy', h('details', null, h('summary', null, 'New policy'), create))),
  };
}

/** The policy selector of one secret: binds on change. */
export function policySelect(secret, policies) {
  const sel = field(`Policy of ${secret.name}`, {
    id: `secret-policy-${++seq}`,
    options: [['', 'No policy'], ...policies.map((p) => [p.id, p.name])],
  }, { tag: 'select' });
  api.get(`/v1/admin/secrets/${api.seg(secret.id)}/policy`)
    .then((b) => { sel.control.value = b.policyId || ''; })
    .catch(fail);
  sel.control.addEventListener('change', async () => {
    const policyId = sel.control.value || null;
    try {
      await api.post(`/v1/admin/secrets/${api.seg(secret.id)}/policy`, { policyId });
      announce(policyId ? `Policy bound to ${secret.name}.` : `${secret.name} has no policy now.`);
    } catch (e) {
      fail(e);
    }
  });
  return sel;
}
