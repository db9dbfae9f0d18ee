// The signed-in user's own account: password, second factors, passkeys, sessions, CLI keys and
// recent sign-ins.

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, field, form, announce, button, modal, fieldError, explain, idCell } from './page.js';
import { passkeysSupported, passkeyCreation, ssoLink } from './auth.js';

/**
 * The person's linked provider identities and the providers they could link; `null` when the
 * server has no SSO (an older one) so the card is left out.
 */
async function ssoState() {
  try {
    const [linked, options] = await Promise.all([api.get('/v1/admin/account/sso'), api.raw('GET', '/v1/auth/sso/providers')]);
    return { identities: linked.identities || [], providers: options.providers || [] };
  } catch (e) {
    if (e.status === 401) throw e;
    return null;
  }
}

function ssoCard(sso, reload) {
  if (!sso || (!sso.identities.length && !sso.providers.length)) return null;
  const linkedIds = new Set(sso.identities.map((i) => i.providerId));
  const linkable = sso.providers.filter((p) => !linkedIds.has(p.id));
  return card('Single sign-on',
    h('p', { class: 'muted small' }, 'Identities at your organisation’s sign-in provider that sign you in here.'),
    table('Linked identities', ['Provider', 'Subject', 'Linked', 'Last sign-in', 'Actions'], sso.identities.map((i) => [
      i.providerName, mono(i.subject), when(i.linkedAt), when(i.lastLoginAt),
      action(`Unlink ${i.providerName}`, async () => {
        await api.post(`/v1/admin/account/sso/${api.seg(i.providerId)}/delete`, {});
        await reload();
        announce(`Unlinked from ${i.providerName}.`);
      }, { cls: 'small danger', confirmAction: `Unlink ${i.providerName}`, confirmText: `Unlink your ${i.providerName} identity? You can no longer sign in with ${i.providerName} until you link it again.` })]),
    'No linked identities.'),
    linkable.length ? h('div', { class: 'actions top-gap', id: 'sso-link' },
      linkable.map((p) => ssoLink(p, `Link ${p.name}`, 'link', { back: '#/account' }))) : null);
}

export async function accountPage() {
  const [a, sso] = await Promise.all([api.get('/v1/admin/account'), ssoState()]);
  const reload = () => accountPage();
  const u = a.user || {};

  // A wrong current password is a field error: the session is fine, so the server answers 400
  // `wrong_factor`, not the 401 that would sign the person out (issue 16, bug 1).
  const current = field('Current password', { name: 'currentPassword', type: 'password', autocomplete: 'current-password', required: true, id: 'pw-current' });
  const newPw = field('New password', { name: 'newPassword', type: 'password', autocomplete: 'new-password', required: true, id: 'pw-new' }, { hint: 'At least 12 characters.' });
  const newPw2 = field('Repeat new password', { name: 'newPassword2', type: 'password', autocomplete: 'new-password', required: true, id: 'pw-new2' });
  const password = form('stack', [current, newPw, newPw2], 'Change password', async (v, f) => {
    if (v.newPassword.length < 12) { fieldError(newPw, 'The new password needs at least 12 characters.'); newPw.control.focus(); return; }
    if (v.newPassword !== v.newPassword2) { fieldError(newPw2, 'The two new passwords differ.'); newPw2.control.focus(); return; }
    try {
      await api.post('/v1/admin/account/password', { currentPassword: v.currentPassword, newPassword: v.newPassword });
    } catch (e) {
      if (e.code === 'wrong_factor') {
        fieldError(current, 'The current password is not right.');
        current.control.focus();
        return;
      }
      if (e.code === 'weak_password') {
        fieldError(newPw, explain(e).text);
        newPw.control.focus();
        return;
      }
      throw e;
    }
    f.reset();
    announce('Password changed. Your other sessions were signed out.');
  });

  const addPasskey = passkeysSupported() ? form('inline', [
    field('Passkey name', { name: 'name', autocomplete: 'off', placeholder: 'Laptop', id: 'passkey-name', required: true }),
  ], 'Add a passkey', async (v) => {
    const start = await api.post('/v1/admin/account/passkeys/register/start', { name: v.name.trim() || 'Passkey' });
    let credential;
    try {
      credential = await passkeyCreation(start.publicKey);
    } catch (e) {
      throw new Error(e.name === 'NotAllowedError' ? 'The passkey prompt was closed.' : `The browser could not create a passkey: ${e.message}`);
    }
    const p = await api.post('/v1/admin/account/passkeys/register/finish', { challengeId: start.challengeId, credential });
    await reload();
    announce(`Passkey ${p.name} added.`);
  }) : h('p', { class: 'muted' }, 'This browser does not support passkeys.');

  const passkeys = a.passkeys || [];
  const sessions = a.sessions || [];
  const cliKeys = a.cliKeys || [];
  const logins = a.logins || [];

  screen('Account',
    card('You', h('dl', { class: 'props' },
      h('dt', null, 'Username'), h('dd', null, u.username),
      h('dt', null, 'Email'), h('dd', null, u.email),
      h('dt', null, 'Role'), h('dd', null, badge(u.role)),
      h('dt', null, 'Authenticator'), h('dd', null, !a.totpEnabled ? badge('off', 'warn')
        : a.totpPending ? [badge('not confirmed yet', 'warn'), h('span', { class: 'muted small' }, ' — your next sign-in or confirmation with a code confirms it')]
          : badge('on', 'ok')),
      h('dt', null, 'Recovery codes left'), h('dd', { id: 'recovery-left' }, String(a.recoveryCodesLeft ?? '—'),
        a.recoveryCodesLeft !== undefined && a.recoveryCodesLeft < 3 ? h('span', { class: 'muted small' }, ' — running low') : null))),
    card('Passkeys',
      table('Passkeys', ['Name', 'Added', 'Last used', ''], passkeys.map((p) => [p.name, when(p.createdAt), when(p.lastUsedAt),
        h('div', { class: 'actions' },
          button('Rename', () => renameDialog(p, reload), 'small'),
          action(`Remove passkey ${p.name}`, async () => {
            await api.post(`/v1/admin/account/passkeys/${api.seg(p.id)}/delete`, {});
            await reload();
            announce(`Passkey ${p.name} removed.`);
          }, { cls: 'small danger', confirmAction: `Remove passkey ${p.name}`, confirmText: `Remove the passkey ${p.name}?` }))]),
      'No passkeys yet. A passkey signs you in without a password or code.'),
      h('div', { class: 'top-gap' }, addPasskey)),
    ssoCard(sso, reload),
    card('Password', password),
    card('Sessions', table('Sessions', ['Browser', 'From', 'Started', 'Last seen', ''],
      sessions.map((s) => [h('span', { class: 'small' }, s.userAgent || '—'), mono(s.ip), when(s.createdAt), when(s.lastSeenAt),
        s.current ? badge('this one', 'ok') : action('Sign out', async () => {
          await api.post(`/v1/admin/account/sessions/${api.seg(s.id)}/revoke`, {});
          await reload();
          announce('Session signed out.');
        }, { cls: 'small' })]))),
    card('CLI keys', h('p', { class: 'muted small' }, 'Keys made by ', mono('signet login'), ' on your computers.'),
      table('CLI keys', ['Name', 'Key id', 'Created', 'Expires', ''],
        cliKeys.map((k) => [k.name || '—', idCell(k.operatorId, `key id of ${k.name || 'CLI key'}`), when(k.createdAt), when(k.expiresAt),
          action(`Revoke CLI key ${k.name || k.operatorId}`, async () => {
            await api.post(`/v1/admin/account/cli-keys/${api.seg(k.operatorId)}/revoke`, {});
            await reload();
            announce('CLI key revoked.');
          }, { cls: 'small danger', confirmAction: `Revoke CLI key ${k.name || k.operatorId}`, confirmText: 'Revoke this CLI key? That computer must sign in again.' })]),
        'No CLI keys.')),
    card('Recent sign-ins', table('Sign-ins', ['When', 'From', 'Browser', 'Result'],
      logins.map((l) => [when(l.at), mono(l.ip), h('span', { class: 'small' }, l.userAgent || '—'),
        badge(l.result, l.result === 'ok' ? 'ok' : 'bad')]), 'No sign-ins recorded.')));
}

function renameDialog(p, reload) {
  const name = field('New name', { name: 'name', value: p.name, autocomplete: 'off', id: 'passkey-rename' });
  const save = h('button', { type: 'button', class: 'primary' }, 'Rename');
  const d = modal(`Rename ${p.name}`, name, [button('Cancel', () => d.close()), save]);
  save.addEventListener('click', async () => {
    fieldError(name, '');
    try {
      await api.post(`/v1/admin/account/passkeys/${api.seg(p.id)}/rename`, { name: name.control.value.trim() });
      d.close();
      await reload();
      announce('Passkey renamed.');
    } catch (e) {
      if (e.status === 401) return;
      // Next to the field, in plain words, with the dialog still open (issue 16, bug 7).
      fieldError(name, explain(e).text);
      name.control.focus();
    }
  });
}
