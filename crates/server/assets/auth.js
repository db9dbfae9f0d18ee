// Sign-in, first-run setup, invitations and the step-up prompt.

import * as api from './api.js';
import { h, field, form, screen, card, copyable, announce, fail, modal, button, fieldError, explain } from './page.js';

/** Whether this browser can do WebAuthn with JSON options (all current browsers). */
export function passkeysSupported() {
  return typeof window.PublicKeyCredential === 'function'
    && typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';
}

/** Runs navigator.credentials.get for options the server made, returning the JSON credential. */
export async function passkeyAssertion(publicKey) {
  const options = PublicKeyCredential.parseRequestOptionsFromJSON(publicKey);
  const cred = await navigator.credentials.get({ publicKey: options });
  if (!cred) throw new Error('No passkey was used.');
  return cred.toJSON();
}

export async function passkeyCreation(publicKey) {
  const options = PublicKeyCredential.parseCreationOptionsFromJSON(publicKey);
  const cred = await navigator.credentials.create({ publicKey: options });
  if (!cred) throw new Error('No passkey was created.');
  return cred.toJSON();
}

function signedIn(answer) {
  api.adopt(answer);
  const back = sessionStorage.getItem('signet.after-login');
  sessionStorage.removeItem('signet.after-login');
  location.hash = back && !back.startsWith('#/login') ? back : '#/';
}

const SSO_RETURN = 'signet.sso-return';

/**
 * Remembers, before the browser leaves for the provider, where to come back to: the server
 * ends every SSO round trip on `#/` (or `#/account`), not on the page the person was on.
 */
function rememberSsoReturn(purpose, hash) {
  sessionStorage.setItem(SSO_RETURN, JSON.stringify({ purpose, hash, at: Date.now() }));
}

/** The remembered return of an SSO round trip begun in the last ten minutes (used once). */
export function takeSsoReturn() {
  const raw = sessionStorage.getItem(SSO_RETURN);
  if (!raw) return null;
  sessionStorage.removeItem(SSO_RETURN);
  try {
    const r = JSON.parse(raw);
    return r && typeof r.hash === 'string' && r.hash.startsWith('#/') && Date.now() - r.at < 600000 ? r : null;
  } catch {
    return null;
  }
}

/**
 * A link that starts an SSO round trip (a plain navigation: the server answers with a redirect
 * to the provider and sets the cookie that binds the attempt to this browser).
 */
export function ssoLink(provider, text, purpose, { cls = 'button', back } = {}) {
  const q = purpose && purpose !== 'login' ? `?purpose=${encodeURIComponent(purpose)}` : '';
  return h('a', {
    href: `/v1/auth/sso/${api.seg(provider.id)}/start${q}`,
    class: cls,
    on: { click: () => rememberSsoReturn(purpose || 'login', back ?? location.hash) },
  }, text);
}

/** What the sign-in page offers; an older server without SSO offers nothing. */
async function ssoOptions() {
  try {
    const o = await api.raw('GET', '/v1/auth/sso/providers');
    return { providers: Array.isArray(o.providers) ? o.providers : [], required: o.required === true };
  } catch {
    return { providers: [], required: false };
  }
}

const SSO_FAILED = 'Single sign-on did not complete. Try again, or ask an administrator.';
const SSO_REQUIRED = 'This vault requires single sign-on.';

export async function loginPage() {
  const query = new URLSearchParams(location.hash.split('?')[1] || '');
  const ssoFailed = query.get('sso') === 'failed';
  if (ssoFailed) {
    // A link or step-up the provider refused also ends here, with the session still good: go
    // back to where it started and say so there.
    const back = takeSsoReturn();
    if (back && back.purpose !== 'login') {
      try {
        api.adopt(await api.raw('GET', '/v1/auth/session'));
        location.hash = back.hash;
        announce(SSO_FAILED, 'error');
        return;
      } catch { /* signed out meanwhile: the sign-in page it is */ }
    }
  }
  let setupOpen = false;
  const [setup, sso] = await Promise.all([
    api.raw('GET', '/v1/auth/setup').catch(() => ({})),
    ssoOptions(),
  ]);
  setupOpen = setup.open === true;
  const err = h('p', { class: 'error-text', role: 'alert', id: 'login-error' });
  const useRecovery = h('input', { type: 'checkbox', id: 'use-recovery' });
  const totp = field('Authenticator code', {
    name: 'totp', autocomplete: 'one-time-code', inputmode: 'numeric', id: 'login-totp',
  }, { hint: 'The 6-digit code from your authenticator app.' });
  const recovery = field('Recovery code', { name: 'recoveryCode', autocomplete: 'off', id: 'login-recovery' });
  recovery.hidden = true;
  useRecovery.addEventListener('change', () => {
    totp.hidden = useRecovery.checked;
    recovery.hidden = !useRecovery.checked;
  });
  const refused = (e, fallback) => (e.status === 403 && e.code === 'sso_required' ? SSO_REQUIRED : fallback);
  const f = form('stack', [
    field('Username or email', { name: 'login', autocomplete: 'username webauthn', required: true, id: 'login-name' }),
    field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true, id: 'login-password' }),
    totp, recovery,
    h('div', { class: 'field check' }, useRecovery, h('label', { for: 'use-recovery' }, 'Use a recovery code instead')),
    err,
  ], 'Sign in', async (v) => {
    err.textContent = '';
    const body = { login: v.login.trim(), password: v.password };
    if (useRecovery.checked) body.recoveryCode = v.recoveryCode.trim();
    else if (v.totp.trim()) body.totp = v.totp.trim();
    try {
      signedIn(await api.raw('POST', '/v1/auth/session', body));
    } catch (e) {
      err.textContent = e.status === 429
        ? 'Too many attempts. Wait a few minutes, then try again.'
        : e.status === 401 ? 'Those details did not match. Check them and try again.' : refused(e, e.message);
      f.elements.password.value = '';
    }
  });
  const passkey = passkeysSupported() ? button('Sign in with a passkey', async () => {
    err.textContent = '';
    passkey.disabled = true;
    try {
      const start = await api.raw('POST', '/v1/auth/passkey/login/start', {});
      const credential = await passkeyAssertion(start.publicKey);
      signedIn(await api.raw('POST', '/v1/auth/passkey/login/finish', { challengeId: start.challengeId, credential }));
    } catch (e) {
      err.textContent = e.name === 'NotAllowedError' ? 'The passkey prompt was closed.' : refused(e, `Passkey sign-in failed: ${e.message}`);
    } finally {
      passkey.disabled = false;
    }
  }) : null;

  const ssoButtons = sso.providers.map((p) => {
    const a = ssoLink(p, `Sign in with ${p.name}`, 'login', { cls: 'button primary wide', back: sessionStorage.getItem('signet.after-login') || '#/' });
    a.addEventListener('click', () => sessionStorage.removeItem('signet.after-login'));
    return a;
  });
  const local = [f, passkey ? h('hr', { class: 'sep' }) : null, passkey];
  let localBlock;
  if (sso.required) {
    // The password form is for the break-glass owner alone: out of everyone else's way.
    localBlock = h('details', { class: 'break-glass', id: 'break-glass' },
      h('summary', null, 'Break-glass sign-in'),
      h('p', { class: 'muted small' }, 'For the vault\u2019s break-glass owner only, when single sign-on is unavailable.'),
      local);
  } else {
    localBlock = h('div', null, ssoButtons.length ? h('p', { class: 'muted small or' }, 'Or sign in with your Signet password') : null, local);
  }
  const main = screen('Sign in',
    setupOpen ? h('p', { class: 'callout' }, 'This server has no users yet. Open the setup link the server printed when it started.') : null,
    ssoFailed ? h('p', { class: 'callout error', role: 'alert', id: 'sso-failed' }, SSO_FAILED) : null,
    card(null,
      sso.required ? h('p', null, SSO_REQUIRED) : null,
      ssoButtons.length ? h('div', { class: 'sso-buttons stack-sm' }, ssoButtons) : null,
      ssoButtons.length ? h('hr', { class: 'sep' }) : null,
      localBlock));
  main.classList.add('narrow');
  if (sso.required && ssoButtons.length) ssoButtons[0].focus();
  else if (!sso.required) f.elements.login.focus();
  if (sso.required) {
    localBlock.addEventListener('toggle', () => { if (localBlock.open) f.elements.login.focus(); });
  }
}

/** The server-drawn QR code (an SVG: no script runs in an `<img>`), or nothing without one. */
export function qrImage(svg) {
  if (!svg) return null;
  // The SVG is ASCII (markup and numbers), so btoa needs no UTF-8 step.
  return h('img', {
    class: 'qr', id: 'totp-qr', width: 240, height: 240,
    src: `data:image/svg+xml;base64,${btoa(svg)}`,
    alt: 'QR code of the authenticator link below. Scan it with your authenticator app.',
  });
}

/**
 * A new account's one-time page: the authenticator enrollment (QR code, link and secret), a
 * code to confirm it with, and the recovery codes. The seed stays pending until a code from the
 * app is confirmed: a wrong one says so and keeps the QR code up; a right one opens the session.
 */
function showEnrollment(title, answer) {
  const err = h('p', { class: 'error-text', role: 'alert', id: 'enroll-error' });
  const code = field('Code from your authenticator app', {
    name: 'totp', autocomplete: 'one-time-code', inputmode: 'numeric', id: 'enroll-totp', required: true,
    pattern: '[0-9 ]*', maxlength: 8,
  }, { hint: 'The 6-digit code the app shows now for Signet.' });
  const done = h('div', { class: 'actions', id: 'enroll-done', hidden: true });
  let opened = null;
  const confirm = form('stack', [code, err], 'Confirm code', async (v) => {
    fieldError(code, '');
    try {
      const r = await api.raw('POST', '/v1/auth/totp/confirm', {
        ticket: answer.enrollmentTicket || '', totp: v.totp.replace(/\s/g, ''),
      });
      opened = r.session || null;
    } catch (e) {
      const text = e.code === 'wrong_factor'
        ? 'That code is not right. Type the code your app shows now; if it still fails, check that your phone sets its clock automatically.'
        : e.code === 'code_reused'
          ? 'That code was used already. Wait for the next one in your app, then enter it.'
          : e.status === 401
            ? 'This enrollment has expired or was confirmed already. Sign in with your password and a code from the app.'
            : e.status === 429 ? 'Too many attempts. Wait a few minutes, then try again.' : explain(e).text;
      fieldError(code, text);
      code.control.value = '';
      code.control.focus();
      return;
    }
    confirm.replaceWith(h('p', { class: 'callout ok', role: 'status', id: 'enroll-confirmed' },
      'Your authenticator app is confirmed.'));
    done.hidden = false;
    done.querySelector('button').focus();
  });
  confirm.id = 'enroll-confirm';
  done.appendChild(button(
    'I saved my recovery codes, continue',
    () => { if (opened) signedIn(opened); else location.hash = '#/login'; },
    'primary'));
  const main = screen(title,
    h('p', { class: 'callout' }, 'Set up your authenticator app now. The codes on this page are shown only once.'),
    card('1. Add Signet to your authenticator app',
      h('p', null, 'Scan this QR code with your authenticator app.'),
      qrImage(answer.qrSvg),
      h('p', { class: 'muted small' }, 'Cannot scan it? Paste the link, or type the secret into the app.'),
      h('h3', null, 'otpauth link'), copyable(answer.otpauthUri || ''),
      answer.totpSecret ? [h('h3', null, 'Secret'), copyable(answer.totpSecret)] : null),
    card('2. Confirm a code', confirm),
    card('3. Save your recovery codes',
      h('p', null, 'Each code signs you in once if you lose your authenticator. Keep them somewhere safe.'),
      h('ol', { class: 'codes', id: 'recovery-codes' }, (answer.recoveryCodes || []).map((c) => h('li', null, c))),
      copyable((answer.recoveryCodes || []).join('\n'), 'Copy all')),
    done);
  main.classList.add('narrow');
}

function accountForm(submitText, withEmail, onSubmit) {
  const password = field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 12, id: 'new-password' },
    { hint: 'At least 12 characters. A long passphrase is best.' });
  const password2 = field('Repeat password', { name: 'password2', type: 'password', autocomplete: 'new-password', required: true, id: 'new-password2' });
  // Errors go next to their field, or into the form's alert region (page.js `form`).
  const f = form('stack', [
    field('Username', { name: 'username', autocomplete: 'username', required: true, id: 'new-username' }),
    withEmail ? field('Email', { name: 'email', type: 'email', autocomplete: 'email', required: true, id: 'new-email' }) : null,
    password, password2,
  ], submitText, async (v) => {
    if (v.password.length < 12) { fieldError(password, 'The password needs at least 12 characters.'); password.control.focus(); return; }
    if (v.password !== v.password2) { fieldError(password2, 'The two passwords differ.'); password2.control.focus(); return; }
    await onSubmit(v);
  }, { fieldsFor: (e) => (e.code === 'weak_password' ? ['password'] : []) });
  return f;
}

export async function setupPage(code) {
  // Ask first whether the link still works (spends nothing), so a used or expired link says so
  // instead of showing a form that fails only after it was filled in (issue 16, bug 8).
  let valid = true;
  try {
    valid = (await api.raw('POST', '/v1/auth/setup/check', { code })).valid === true;
  } catch (e) {
    // An older server without the check: show the form, which still refuses a spent code.
    valid = e.status === 404 || e.status === 405;
    if (e.status === 429) {
      const main = screen('Set up Signet', h('p', { class: 'callout error', role: 'alert', id: 'setup-closed' },
        'Too many attempts from this address. Wait a minute, then reload this page.'));
      main.classList.add('narrow');
      return;
    }
  }
  if (!valid) {
    const main = screen('Set up Signet',
      h('p', { class: 'callout error', role: 'alert', id: 'setup-closed' },
        'This setup link was already used or has expired. '
        + 'If the vault has an owner, sign in; otherwise restart the server to print a new link.'),
      h('p', null, h('a', { href: '#/login', class: 'button primary' }, 'Go to sign-in')));
    main.classList.add('narrow');
    return;
  }
  const f = accountForm('Create owner account', true, async (v) => {
    const answer = await api.raw('POST', '/v1/auth/setup', {
      code, username: v.username.trim(), email: v.email.trim(), password: v.password,
    });
    showEnrollment('Owner account created', answer);
  });
  const main = screen('Set up Signet',
    h('p', null, 'Create the first account. It owns this vault and can invite everyone else.'),
    card(null, f));
  main.classList.add('narrow');
}

export async function invitePage(code) {
  // As for the setup link: a used, revoked or expired invitation says so at once, not after the
  // form was filled in and sent.
  let valid = true;
  try {
    valid = (await api.raw('POST', '/v1/auth/invite/check', { code })).valid === true;
  } catch (e) {
    // An older server without the check: the form, which still refuses a spent code.
    valid = e.status === 404 || e.status === 405;
    if (e.status === 429) {
      const main = screen('Accept invitation', h('p', { class: 'callout error', role: 'alert', id: 'invite-closed' },
        'Too many attempts from this address. Wait a minute, then reload this page.'));
      main.classList.add('narrow');
      return;
    }
  }
  if (!valid) {
    const main = screen('Accept invitation',
      h('p', { class: 'callout error', role: 'alert', id: 'invite-closed' },
        'This invitation link was already used, was revoked or has expired. '
        + 'Ask the person who invited you for a new one; if you already made your account, sign in.'),
      h('p', null, h('a', { href: '#/login', class: 'button primary' }, 'Go to sign-in')));
    main.classList.add('narrow');
    return;
  }
  const f = accountForm('Create account', false, async (v) => {
    const answer = await api.raw('POST', '/v1/auth/invite/accept', {
      code, username: v.username.trim(), password: v.password,
    });
    showEnrollment('Account created', answer);
  });
  const main = screen('Accept invitation', h('p', null, 'Choose a username and password.'), card(null, f));
  main.classList.add('narrow');
}

/**
 * The second factors this person can confirm with now: their authenticator and passkeys as the
 * account page lists them, and, when the vault trusts the provider's MFA, each linked provider.
 * When the account cannot be read (an older server), both Signet factors are offered.
 */
async function stepUpOptions() {
  const out = { totp: true, passkey: passkeysSupported(), providers: [] };
  const [account, vault, linked] = await Promise.all([
    api.raw('GET', '/v1/admin/account').catch(() => null),
    api.raw('GET', '/v1/admin/vault').catch(() => null),
    api.raw('GET', '/v1/admin/account/sso').catch(() => null),
  ]);
  if (account) {
    out.totp = account.totpEnabled === true;
    out.passkey = passkeysSupported() && Array.isArray(account.passkeys) && account.passkeys.length > 0;
  }
  if (vault && vault.ssoTrustProviderMfa === true && linked && Array.isArray(linked.identities)) {
    out.providers = linked.identities.map((i) => ({ id: i.providerId, name: i.providerName }));
  }
  return out;
}

/**
 * Asks for a second factor before a sensitive action. Resolves true when the server accepted
 * one, false when the user cancelled. Confirming through the provider leaves the page (the
 * action is then repeated by the person once they are back).
 */
export async function stepUp() {
  const opts = await stepUpOptions();
  return new Promise((resolve) => {
    let ok = false;
    const err = h('p', { class: 'error-text', role: 'alert' });
    const code = field('Authenticator code', { name: 'totp', autocomplete: 'one-time-code', inputmode: 'numeric', id: 'stepup-totp' });
    const confirm = h('button', { type: 'submit', class: 'primary' }, 'Confirm');
    const none = !opts.totp && !opts.passkey && !opts.providers.length;
    const f = h('form', { class: 'stack', method: 'dialog' },
      h('p', null, 'This action needs a fresh second factor.'),
      none ? h('p', { class: 'callout' }, 'Add an authenticator app or a passkey on your ',
        h('a', { href: '#/account', on: { click: () => d.close() } }, 'Account'), ' page first.') : null,
      opts.totp ? code : null,
      err,
      opts.providers.length ? h('div', { class: 'actions' }, opts.providers.map((p) =>
        ssoLink(p, `Confirm with ${p.name}`, 'step_up'))) : null,
      h('div', { class: 'actions' },
        button('Cancel', () => d.close()),
        opts.passkey ? button('Use a passkey', async () => {
          err.textContent = '';
          try {
            const start = await api.raw('POST', '/v1/auth/step-up/passkey/start', {});
            const credential = await passkeyAssertion(start.publicKey);
            const r = await api.raw('POST', '/v1/auth/step-up/passkey/finish', { challengeId: start.challengeId, credential });
            api.session.stepUpUntil = r.stepUpUntil;
            ok = true;
            d.close();
          } catch (e) {
            err.textContent = e.name === 'NotAllowedError' ? 'The passkey prompt was closed.' : e.message;
          }
        }) : null,
        opts.totp ? confirm : null));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!opts.totp) return;
      err.textContent = '';
      confirm.disabled = true;
      try {
        const r = await api.raw('POST', '/v1/auth/step-up', { totp: code.control.value.trim() });
        api.session.stepUpUntil = r.stepUpUntil;
        ok = true;
        d.close();
      } catch (e) {
        // Only a code the server says was just used means "wait"; a wrong one is wrong.
        const text = e.code === 'code_reused'
          ? 'That code was used already. Wait for the next one in your authenticator, then enter it.'
          : e.code === 'wrong_factor' || e.status === 401
            ? 'Wrong code. Check your authenticator app and type the code it shows now.'
            : explain(e).text;
        fieldError(code, text);
        err.textContent = '';
        code.control.value = '';
        code.control.focus();
      } finally {
        confirm.disabled = false;
      }
    });
    const d = modal('Confirm it is you', f, []);
    d.id = 'step-up';
    d.addEventListener('close', () => resolve(ok));
    if (opts.totp) code.control.focus();
  });
}

export async function logout() {
  try {
    await api.raw('POST', '/v1/auth/session/logout', {});
  } catch (e) {
    if (e.status !== 401) { fail(e); return; }
  }
  api.forget();
  announce('Signed out.');
  location.hash = '#/login';
}

