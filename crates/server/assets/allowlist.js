// The vault-wide IP allowlist: when on, machines and operators are served only from these ranges.
// Removing a range warns which active machines it cuts off (by the address each registered from).

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, field, form, announce, typeToConfirm, confirmDialog, fail, button } from './page.js';

/** An IPv4 or IPv6 address as `{ v6, n }` (n a BigInt), or null. */
export function parseIp(text) {
  const s = String(text || '').trim().replace(/^\[|\]$/g, '');
  const v4 = s.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return null;
    return { v6: false, n: parts.reduce((a, p) => (a << 8n) + BigInt(p), 0n) };
  }
  if (!s.includes(':')) return null;
  // `::ffff:1.2.3.4` is an IPv4 client seen through an IPv6 socket.
  const mapped = s.match(/^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i);
  if (mapped) return parseIp(mapped[1]);
  const [head, tail, extra] = s.split('::');
  if (extra !== undefined) return null;
  const groups = (x) => (x ? x.split(':') : []);
  const hs = groups(head);
  const ts = tail === undefined ? [] : groups(tail);
  const missing = 8 - hs.length - ts.length;
  if ((tail === undefined && missing !== 0) || missing < 0) return null;
  const all = [...hs, ...Array(tail === undefined ? 0 : missing).fill('0'), ...ts];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
  return { v6: true, n: all.reduce((a, g) => (a << 16n) + BigInt(parseInt(g, 16)), 0n) };
}

/** Whether `ip` (text) lies in `cidr` (text); false when either does not parse. */
export function inCidr(ip, cidr) {
  const [net, bits] = String(cidr).split('/');
  const a = parseIp(ip);
  const b = parseIp(net);
  if (!a || !b || a.v6 !== b.v6) return false;
  const width = a.v6 ? 128 : 32;
  const len = bits === undefined ? width : Number(bits);
  if (!Number.isInteger(len) || len < 0 || len > width) return false;
  const shift = BigInt(width - len);
  return (a.n >> shift) === (b.n >> shift);
}

/** Active machines whose registered address only `entry` lets in, with the allowlist on. */
export function cutOff(entries, entry, machines) {
  const rest = entries.filter((e) => e.id !== entry.id);
  return machines.filter((m) => m.registeredIp && inCidr(m.registeredIp, entry.cidr)
    && !rest.some((e) => inCidr(m.registeredIp, e.cidr)));
}

export async function allowlistPage() {
  const [list, machines] = await Promise.all([
    api.get('/v1/admin/ip-allowlist'),
    api.get('/v1/admin/machines').then((r) => (r.machines || []).filter((m) => m.status === 'approved' && m.enabled), () => []),
  ]);
  const entries = list.entries || [];
  const manage = api.can('manage_allowlist');
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
  }, { fieldsFor: (e) => (e.code === 'malformed_request' && /cidr/i.test(e.message) ? ['cidr'] : []) });
  const toggle = list.enabled
    ? action('Turn off', async () => { await api.post('/v1/admin/ip-allowlist/disable', {}); await allowlistPage(); },
      { done: 'The allowlist is off.', confirmText: 'Turn the allowlist off? Requests from any address will be served.', confirmAction: 'Turn the allowlist off' })
    : action('Turn on', async () => { await api.post('/v1/admin/ip-allowlist/enable', {}); await allowlistPage(); },
      { cls: 'primary', done: 'The allowlist is on.', confirmText: 'Turn the allowlist on? Requests from other addresses will be refused, possibly including yours.', confirmAction: 'Turn the allowlist on' });

  const remove = (e) => button(`Remove ${e.cidr}`, async (ev) => {
    const b = ev.currentTarget;
    const lost = list.enabled ? cutOff(entries, e, machines) : [];
    const last = list.enabled && entries.length === 1;
    const everyone = list.enabled && machines.length > 0 && lost.length === machines.length;
    const names = lost.slice(0, 8).map((m) => m.name).join(', ') + (lost.length > 8 ? `, and ${lost.length - 8} more` : '');
    const detail = h('div', { class: 'stack-sm' },
      lost.length ? h('p', { class: 'callout error', id: 'cutoff-warning' }, h('strong', null,
        `This cuts off ${lost.length} active machine${lost.length === 1 ? '' : 's'}${everyone ? ': every one' : ''}: `), names,
      '. No other range covers the address they registered from; their requests will be refused.') : null,
      last ? h('p', { class: 'callout error' }, 'It is the last range: with the allowlist on, every request from anywhere, yours included, will be refused.') : null,
      h('p', null, `Remove ${e.cidr}${e.label ? ` (${e.label})` : ''} from the allowlist?`));
    const ok = (everyone || last)
      ? await typeToConfirm(e.cidr, `Remove ${e.cidr}`, detail)
      : await confirmDialog(lost.length ? `${detail.textContent}` : `Remove ${e.cidr} from the allowlist?`, { action: `Remove ${e.cidr}`, danger: true });
    if (!ok) return;
    b.disabled = true;
    try {
      await api.post(`/v1/admin/ip-allowlist/${api.seg(e.id)}/delete`, {});
      await allowlistPage();
      announce(`${e.cidr} removed.`);
    } catch (err) {
      fail(err);
    } finally {
      b.disabled = false;
    }
  }, 'small danger');

  screen('IP allowlist',
    card('State', h('p', null, 'The allowlist is ', list.enabled ? badge('on', 'ok') : badge('off'), '.'), manage ? toggle : null),
    card('Ranges', table('Allowed ranges', ['CIDR', 'Label', 'Machines inside', 'Added', ''],
      entries.map((e) => {
        const inside = machines.filter((m) => inCidr(m.registeredIp, e.cidr)).length;
        return [mono(e.cidr), e.label || '—', String(inside), when(e.createdAt), manage ? remove(e) : ''];
      }),
      'No ranges yet.'), manage ? add : null));
}
