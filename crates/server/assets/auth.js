// Sign-in, first-run setup, invitations and the step-up prompt.

import * as api from './api.js';
import { h, field, form, screen, card, copyable, announce, fail, modal, button } from './page.js';

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

export async function loginPage() {
  let setupOpen = false;
  try {
    setupOpen = (await api.raw('GET', '/v1/auth/setup')).open === true;
  } catch { /* an older server: no hint */ }
  const err = h('p', { class: 'error-text', role: 'alert' });
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
        : e.status === 401 ? 'Those details did not match. Check them and try again.' : e.message;
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
      err.textContent = e.name === 'NotAllowedError' ? 'The passkey prompt was closed.' : `Passkey sign-in failed: ${e.message}`;
    } finally {
      passkey.disabled = false;
    }
  }) : null;
  const main = screen('Sign in',
    setupOpen ? h('p', { class: 'callout' }, 'This server has no users yet. Open the setup link the server printed when it started.') : null,
    card(null, f, passkey ? h('hr', { class: 'sep' }) : null, passkey));
  main.classList.add('narrow');
  f.elements.login.focus();
}

function showEnrollment(title, answer) {
  const main = screen(title,
    h('p', { class: 'callout' }, 'Save these now. They are shown only once.'),
    card('Authenticator app',
      h('p', null, 'Add this account to your authenticator app (scan or paste the link, or type the secret).'),
      h('h3', null, 'otpauth link'), copyable(answer.otpauthUri || ''),
      answer.totpSecret ? [h('h3', null, 'Secret'), copyable(answer.totpSecret)] : null),
    card('Recovery codes',
      h('p', null, 'Each code signs you in once if you lose your authenticator. Keep them somewhere safe.'),
      h('ol', { class: 'codes', id: 'recovery-codes' }, (answer.recoveryCodes || []).map((c) => h('li', null, c))),
      copyable((answer.recoveryCodes || []).join('\n'), 'Copy all')),
    h('div', { class: 'actions' }, button('I saved them, continue to sign in', () => { location.hash = '#/login'; }, 'primary')));
  main.classList.add('narrow');
}

function accountForm(submitText, withEmail, onSubmit) {
  const err = h('p', { class: 'error-text', role: 'alert' });
  const f = form('stack', [
    field('Username', { name: 'username', autocomplete: 'username', required: true, id: 'new-username' }),
    withEmail ? field('Email', { name: 'email', type: 'email', autocomplete: 'email', required: true, id: 'new-email' }) : null,
    field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 12, id: 'new-password' },
      { hint: 'At least 12 characters. A long passphrase is best.' }),
    field('Repeat password', { name: 'password2', type: 'password', autocomplete: 'new-password', required: true, id: 'new-password2' }),
    err,
  ], submitText, async (v) => {
    err.textContent = '';
    if (v.password.length < 12) { err.textContent = 'The password needs at least 12 characters.'; return; }
    if (v.password !== v.password2) { err.textContent = 'The two passwords differ.'; return; }
    try {
      await onSubmit(v);
    } catch (e) {
      err.textContent = e.message;
    }
  });
  return f;
}

export function setupPage(code) {
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

export function invitePage(code) {
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
 * Asks for a second factor before a sensitive action. Resolves true when the server accepted
 * one, false when the user cancelled.
 */
export function stepUp() {
  return new Promise((resolve) => {
    let ok = false;
    const err = h('p', { class: 'error-text', role: 'alert' });
    const code = field('Authenticator code', { name: 'totp', autocomplete: 'one-time-code', inputmode: 'numeric', id: 'stepup-totp' });
    const confirm = h('button', { type: 'submit', class: 'primary' }, 'Confirm');
    const f = h('form', { class: 'stack', method: 'dialog' },
      h('p', null, 'This action needs a fresh second factor.'), code, err,
      h('div', { class: 'actions' },
        button('Cancel', () => d.close()),
        passkeysSupported() ? button('Use a passkey', async () => {
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
        confirm));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      confirm.disabled = true;
      try {
        const r = await api.raw('POST', '/v1/auth/step-up', { totp: code.control.value.trim() });
        api.session.stepUpUntil = r.stepUpUntil;
        ok = true;
        d.close();
      } catch (e) {
        err.textContent = e.status === 401 ? 'That code was not accepted. Wait for the next one and try again.' : e.message;
        code.control.value = '';
        code.control.focus();
      } finally {
        confirm.disabled = false;
      }
    });
    const d = modal('Confirm it is you', f, []);
    d.id = 'step-up';
    d.addEventListener('close', () => resolve(ok));
    code.control.focus();
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

