// One-time share links: the signed-in page that creates them (the link shown once) and lists
// their status, and the plain page a reader opens a link on, without signing in.

import * as api from './api.js';
import { h, screen, card, table, when, badge, action, field, form, announce, copyable, idCell } from './page.js';

const LIFETIMES = [
  ['600', '10 minutes'],
  ['3600', '1 hour'],
  ['14400', '4 hours'],
  ['86400', '24 hours'],
  ['60', '1 minute'],
];

const STATUS_KIND = { pending: 'ok', viewed: '', destroyed: 'warn', expired: 'warn' };

export async function sharePage() {
  const { shares = [] } = await api.get('/v1/admin/shares');
  const reload = () => sharePage();
  const out = h('div', { 'aria-live': 'polite', id: 'share-result' });
  const create = form('stack', [
    field('Value', { name: 'value', required: true, rows: 5, autocomplete: 'off', spellcheck: 'false', id: 'share-value' },
      { tag: 'textarea', hint: 'Up to 100 KB of text. The reader sees it once.' }),
    field('Passphrase', { name: 'passphrase', type: 'password', required: true, minlength: 8, autocomplete: 'new-password', id: 'share-passphrase' },
      { hint: 'At least 8 characters. Send it separately from the link.' }),
    field('Lifetime', { name: 'ttl', id: 'share-ttl', options: LIFETIMES }, { tag: 'select' }),
  ], 'Create link', async (v, f) => {
    const r = await api.post('/v1/admin/shares', { value: v.value, passphrase: v.passphrase, ttlSeconds: Number(v.ttl) });
    f.reset();
    await reload();
    document.getElementById('share-result').replaceChildren(
      h('p', { class: 'callout' }, 'This link is shown only now. It opens once, until ', when(r.expiresAt),
        '; a wrong passphrase destroys it.'),
      copyable(r.url, 'Copy link'));
    announce('Share link created.');
  });
  const rows = shares.map((s) => [
    idCell(s.id, 'link id'), badge(s.status, STATUS_KIND[s.status] || ''), when(s.createdAt), when(s.expiresAt),
    s.status === 'pending'
      ? action(`Destroy link ${s.id}`, async () => { await api.post(`/v1/admin/shares/${api.seg(s.id)}/revoke`, {}); await reload(); },
        { cls: 'small danger', confirmAction: `Destroy link ${s.id}`, done: 'Share link destroyed.', confirmText: 'Destroy this link? Nobody will be able to open it.' })
      : '',
  ]);
  screen('Share',
    card('Share a value once', h('p', { class: 'muted small' },
      'Creates a link that shows the value to one reader, once, after they type the passphrase.'), create, out),
    card('Your links', table('Share links', ['Link', 'Status', 'Created', 'Expires', ''], rows, 'No share links yet.')));
}

/** The plain page for `#/s/<id>.<secret>`: no sign-in; one attempt. */
export function openSharePage(token) {
  const dot = token.indexOf('.');
  const id = dot > 0 ? token.slice(0, dot) : '';
  const secret = dot > 0 ? token.slice(dot + 1) : '';
  const result = h('div', { 'aria-live': 'polite', id: 'share-open-result' });
  if (!id || !secret) {
    const main = screen('Shared value', h('p', { class: 'callout error', role: 'alert' }, 'This link is incomplete.'));
    main.classList.add('narrow');
    return;
  }
  const passphrase = field('Passphrase', { name: 'passphrase', type: 'password', required: true, autocomplete: 'off', id: 'share-open-passphrase' });
  const f = form('stack', [
    h('p', { class: 'callout warn' }, 'You have one attempt. Right or wrong, this link stops working after it.'),
    passphrase,
  ], 'Show the value', async (v) => {
    // The attempt uses the link up, so its secret part leaves the address bar and history.
    history.replaceState(null, '', `${location.pathname}${location.search}#/s/${encodeURIComponent(id)}`);
    try {
      const r = await api.raw('POST', '/v1/share/open', { id, secret, passphrase: v.passphrase });
      f.remove();
      result.replaceChildren(
        h('p', null, 'Here is the value. It will not be shown again: copy it now.'),
        h('pre', { class: 'shared-value', id: 'share-open-value' }, r.value),
        copyable(r.value, 'Copy value'));
    } catch (e) {
      if (e.status === 403) {
        f.remove();
        result.replaceChildren(h('p', { class: 'callout error', role: 'alert', id: 'share-open-gone' },
          'This link cannot be opened: the passphrase was wrong, or it was already used, revoked or expired. It is gone either way.'));
      } else {
        throw e;
      }
    }
  });
  const main = screen('Shared value', card(null, f, result));
  main.classList.add('narrow');
}
