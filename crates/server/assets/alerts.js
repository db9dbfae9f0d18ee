// Alerts: the webhooks deliveries go to (with a Test button), the rules that pick audit
// records, and the delivery log. Admins and owners manage them; other roles see why not.

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, field, form, announce, copyable, idCell, filteredTable } from './page.js';

const SEVERITIES = [['warning', 'warning'], ['critical', 'critical'], ['info', 'info']];
const STATUS_KIND = { pending: 'warn', delivered: 'ok', failed: 'warn' };

export async function alertsPage() {
  const role = (api.session.user || {}).role;
  if (role !== 'owner' && role !== 'admin') {
    screen('Alerts', h('p', { class: 'muted' }, 'Alert rules and webhooks are managed by admins and owners.'));
    return;
  }
  const [{ webhooks = [], keyId }, { rules = [] }, { deliveries = [] }] = await Promise.all([
    api.get('/v1/admin/webhooks'), api.get('/v1/admin/alerts'), api.get('/v1/admin/webhooks/deliveries'),
  ]);
  const reload = () => alertsPage();
  const names = Object.fromEntries(webhooks.map((w) => [w.id, w.name]));
  const out = h('div', { 'aria-live': 'polite', id: 'webhook-result' });
  const addWebhook = form('stack', [
    field('Name', { name: 'name', required: true, maxlength: 100, id: 'webhook-name' }),
    field('URL', { name: 'url', required: true, type: 'url', id: 'webhook-url', placeholder: 'https://hooks.example.com/signet' },
      { hint: 'HTTPS to a public address. Private, loopback and metadata addresses are refused.' }),
    field('Also sign with X-SikkerKey-Signature (HMAC)', { name: 'hmac', type: 'checkbox', id: 'webhook-hmac' }),
  ], 'Add webhook', async (v, f) => {
    const r = await api.post('/v1/admin/webhooks', { name: v.name, url: v.url, hmacSecret: Boolean(v.hmac) });
    f.reset();
    await reload();
    if (r.hmacSecret) {
      document.getElementById('webhook-result').replaceChildren(
        h('p', { class: 'callout' }, 'The HMAC secret is shown only now.'), copyable(r.hmacSecret, 'Copy secret'));
    }
    announce(`Webhook ${r.webhook.name} added.`);
  });
  const hookRows = webhooks.map((w) => [
    w.name, mono(w.url), badge(w.enabled ? 'enabled' : 'disabled', w.enabled ? 'ok' : 'warn'),
    w.hasHmacSecret ? 'yes' : 'no', idCell(w.id, `id of ${w.name}`),
    h('div', { class: 'actions' },
      action(`Test ${w.name}`, async () => {
        await api.post(`/v1/admin/webhooks/${api.seg(w.id)}/test`, {});
        await reload();
      }, { cls: 'small', done: `Test delivery queued for ${w.name}.` }),
      action(`${w.enabled ? 'Disable' : 'Enable'} ${w.name}`, async () => {
        await api.post(`/v1/admin/webhooks/${api.seg(w.id)}/update`, { enabled: !w.enabled });
        await reload();
      }, { cls: 'small' }),
      action(`Delete webhook ${w.name}`, async () => {
        await api.post(`/v1/admin/webhooks/${api.seg(w.id)}/delete`, {});
        await reload();
      }, { cls: 'small danger', confirmAction: `Delete webhook ${w.name}`, done: `Webhook ${w.name} deleted.`, confirmText: `Delete the webhook ${w.name} and its delivery log?` })),
  ]);
  const addRule = form('stack', [
    field('Name', { name: 'name', required: true, maxlength: 100, id: 'rule-name' }),
    field('Severity', { name: 'severity', id: 'rule-severity', options: SEVERITIES }, { tag: 'select' }),
    field('Audit actions', { name: 'actions', id: 'rule-actions', placeholder: 'canary_triggered, machine_approve' },
      { hint: 'Comma-separated audit actions; or leave empty and give a burst below.' }),
    field('Only with result', { name: 'result', id: 'rule-result', options: [['', 'any'], ['ok', 'ok'], ['denied', 'denied'], ['failed', 'failed']] }, { tag: 'select' }),
    field('Burst: denied reads', { name: 'burst', type: 'number', min: 2, id: 'rule-burst' }),
    field('Burst window (seconds)', { name: 'window', type: 'number', min: 1, id: 'rule-window' }),
    field('Burst per', { name: 'per', id: 'rule-per', options: [['machine', 'machine'], ['source', 'source address']] }, { tag: 'select' }),
    field('Webhook', { name: 'webhook', id: 'rule-webhook', options: webhooks.map((w) => [w.id, w.name]) }, { tag: 'select' }),
  ], 'Add rule', async (v, f) => {
    const actions = (v.actions || '').split(',').map((a) => a.trim()).filter(Boolean);
    const body = { name: v.name, severity: v.severity, webhooks: [v.webhook] };
    if (actions.length) {
      body.actions = actions;
      if (v.result) body.result = v.result;
    } else {
      body.burst = { threshold: Number(v.burst), windowSeconds: Number(v.window), per: v.per };
    }
    await api.post('/v1/admin/alerts', body);
    f.reset();
    await reload();
    announce(`Alert rule ${v.name} added.`);
  });
  const ruleRows = rules.map((r) => [
    r.name, badge(r.severity, r.severity === 'critical' ? 'warn' : ''),
    r.burst ? `${r.burst.threshold} denied reads per ${r.burst.per} in ${r.burst.windowSeconds} s`
      : r.actions.join(', ') + (r.result ? ` (${r.result})` : ''),
    r.webhooks.map((w) => names[w] || w).join(', '),
    action(`Delete rule ${r.name}`, async () => {
      await api.post(`/v1/admin/alerts/${api.seg(r.id)}/delete`, {});
      await reload();
    }, { cls: 'small danger', confirmAction: `Delete rule ${r.name}`, done: `Alert rule ${r.name} deleted.`, confirmText: `Delete the alert rule ${r.name}?` }),
  ]);
  const logRow = (d) => [
    when(d.createdAt), names[d.webhookId] || mono(d.webhookId), d.event,
    badge(d.status, STATUS_KIND[d.status] || ''), String(d.attempts),
    d.lastStatusCode == null ? '' : String(d.lastStatusCode), d.lastError || '', idCell(d.id, 'delivery id'),
  ];
  screen('Alerts',
    h('p', { class: 'muted' }, 'Deliveries are signed with the vault key ', mono(keyId || ''),
      ' (RFC 9421), published at /.well-known/signet/webhook-keys.'),
    card('Webhooks', addWebhook, out,
      table('Webhooks', ['Name', 'URL', 'State', 'HMAC', 'Id', 'Actions'], hookRows, 'No webhooks yet.')),
    card('Alert rules', webhooks.length ? addRule : h('p', { class: 'muted' }, 'Add a webhook first.'),
      table('Alert rules', ['Name', 'Severity', 'Matches', 'Webhooks', ''], ruleRows, 'No alert rules yet.')),
    card('Delivery log', filteredTable({
      caption: 'Deliveries',
      label: 'Search deliveries',
      headers: ['Created', 'Webhook', 'Event', 'Status', 'Attempts', 'Code', 'Error', 'Delivery id'],
      items: deliveries,
      row: logRow,
      text: (d) => `${names[d.webhookId] || d.webhookId} ${d.event} ${d.status} ${d.lastError || ''} ${d.id}`,
      filters: [{ label: 'Delivery status', options: [['', 'All'], ...Object.keys(STATUS_KIND).map((k) => [k, k])], test: (d, v) => d.status === v }],
      empty: 'No deliveries yet.',
    })));
}
