// The vault-wide IP allowlist: when on, machines and operators are served only from these ranges.

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, field, form, announce } from './page.js';

export async function allowlistPage() {
  const list = await api.get('/v1/admin/ip-allowlist');
  const entries = list.entries || [];
  const add = form('inline', [
    field('CIDR', { name: 'cidr', required: true, autocomplete: 'off', placeholder: '203.0.113.0/24', id: 'allow-cidr' }),
    field('Label', { name: 'label', autocomplete: 'off', id: 'allow-label' }),
  ], 'Add range', async (v, f) => {
    const body = { cidr: v.cidr.trim() };
    if (v.label.trim()) body.label = v.label.trim();
    await api.post('/v1/admin/ip-allowlist', body);
    f.reset();
    await allowlistPage();
    announce(`${body.cidr} added.`);
  });
  const toggle = list.enabled
    ? action('Turn off', async () => { await api.post('/v1/admin/ip-allowlist/disable', {}); await allowlistPage(); },
      { done: 'The allowlist is off.', confirmText: 'Turn the allowlist off? Requests from any address will be served.' })
    : action('Turn on', async () => { await api.post('/v1/admin/ip-allowlist/enable', {}); await allowlistPage(); },
      { cls: 'primary', done: 'The allowlist is on.', confirmText: 'Turn the allowlist on? Requests from other addresses will be refused, possibly including yours.' });
  screen('IP allowlist',
    card('State', h('p', null, 'The allowlist is ', list.enabled ? badge('on', 'ok') : badge('off'), '.'), toggle),
    card('Ranges', table('Allowed ranges', ['CIDR', 'Label', 'Added', ''],
      entries.map((e) => [mono(e.cidr), e.label || '—', when(e.createdAt),
        action('Remove', async () => {
          await api.post(`/v1/admin/ip-allowlist/${api.seg(e.id)}/delete`, {});
          await allowlistPage();
          announce(`${e.cidr} removed.`);
        }, { cls: 'small danger', confirmText: `Remove ${e.cidr} from the allowlist?` })]),
      'No ranges yet.'), add));
}
