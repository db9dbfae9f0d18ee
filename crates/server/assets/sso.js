// Single sign-on, for owners: the OpenID providers people sign in through, the mappings from a
// person's claims to a role and project scope, and the vault's sign-in policy (require SSO, the
// break-glass owner, trusting the provider's second factor). Client secrets go in and never
// come back: the page shows only whether one is set.

import * as api from './api.js';
import {
  h, screen, card, table, when, mono, badge, field, announce, copyable, button, modal,
  fieldError, clearFieldErrors, sentence, confirmDialog, fail,
} from './page.js';

const ROLES = ['viewer', 'developer', 'admin', 'owner'];

/** `openid` is always asked for; these go besides it. */
function parseScopes(text) {
  return String(text || '').split(/[\s,]+/).map((s) => s.trim()).filter((s) => s && s !== 'openid');
}

/**
 * A URL or id as code that may wrap after a `/` and nowhere else: a narrow
 * column never splits `login.example` into `logi` and `n.example`.
 */
function breakable(text) {
  const parts = String(text).split(/(?<=\/)/);
  return h('code', { class: 'breakable' }, parts.flatMap((x, i) => (i ? [h('wbr'), x] : [x])));
}

function copyableUrl(text, label) {
  const row = copyable(text, label);
  row.querySelector('code').replaceWith(breakable(text));
  return row;
}

function sameList(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Puts a server refusal next to the field it is about (its message names the field), or in
 * `general` when it names none; focuses the field. `fields` maps a keyword to a field wrapper.
 */
function placeError(e, fields, general, { conflict } = {}) {
  let target = null;
  let text = sentence(e.message);
  if (e.code === 'step_up_cancelled') {
    general.textContent = 'Confirmation cancelled; nothing was changed.';
    return;
  }
  if (e.status === 409 && conflict) {
    [target, text] = conflict;
  } else if (e.status === 400) {
    const m = String(e.message || '').toLowerCase();
    for (const [word, wrap] of fields) {
      if (wrap && m.includes(word)) { target = wrap; break; }
    }
  } else if (e.status === 403) {
    text = 'Only owners manage single sign-on.';
  }
  if (target) {
    fieldError(target, text);
    target.control.focus();
  } else {
    general.textContent = text;
  }
}

function check(wrap, ok, text) {
  if (!ok) fieldError(wrap, text);
  return ok;
}

function firstInvalid(root) {
  const c = root.querySelector('[aria-invalid="true"]');
  if (c) c.focus();
  return Boolean(c);
}

/** A form element with its own submit button (dialogs and cards alike); `fn` gets the form. */
function submitForm(id, children, submitText, fn, extraButtons = []) {
  const submit = h('button', { type: 'submit', class: 'primary' }, submitText);
  const general = h('p', { class: 'error-text', role: 'alert', id: `${id}-error` });
  const f = h('form', { class: 'stack', id, novalidate: true }, children, general,
    h('div', { class: 'actions' }, extraButtons, submit));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFieldErrors(f);
    general.textContent = '';
    submit.disabled = true;
    f.setAttribute('aria-busy', 'true');
    try {
      await fn(f, general);
    } catch (e) {
      general.textContent = sentence(e.message);
    } finally {
      submit.disabled = false;
      f.setAttribute('aria-busy', 'false');
    }
  });
  return f;
}

function projectPicker(projects, chosen, prefix) {
  if (!projects.length) return null;
  return h('fieldset', { class: 'project-scope' }, h('legend', null, 'Projects (none ticked = every project; developers and viewers only)'),
    projects.map((p) => field(p.name, {
      type: 'checkbox', name: `project:${p.id}`, id: `${prefix}-${p.id}`, checked: chosen.includes(p.id),
    })));
}

function pickedProjects(f) {
  return [...f.elements].filter((el) => el.name && el.name.startsWith('project:') && el.checked).map((el) => el.name.slice(8));
}

/** The provider fields shared by the add form and the edit dialog. */
function providerFields(prefix, p) {
  const secretHint = p
    ? (p.hasClientSecret ? 'A secret is set. Leave empty to keep it.' : 'None set (a public client, PKCE only). Leave empty to keep it so.')
    : 'From the provider\u2019s client registration. Leave empty for a public client (PKCE only). Never shown again.';
  const f = {
    name: field('Name', { name: 'name', required: true, maxlength: 64, autocomplete: 'off', id: `${prefix}-name`, value: p ? p.name : null },
      { hint: 'Shown on the sign-in button: \u201cSign in with NAME\u201d.' }),
    issuer: p ? null : field('Issuer URL', { name: 'issuer', required: true, type: 'url', autocomplete: 'off', id: `${prefix}-issuer`, placeholder: 'https://login.example.com' },
      { hint: 'Exactly the iss of the provider\u2019s ID tokens; its discovery document names the endpoints and keys.' }),
    clientId: field('Client id', { name: 'clientId', required: true, autocomplete: 'off', id: `${prefix}-client-id`, value: p ? p.clientId : null }),
    clientSecret: field('Client secret', { name: 'clientSecret', type: 'password', autocomplete: 'new-password', id: `${prefix}-client-secret` },
      { hint: secretHint }),
    removeSecret: p && p.hasClientSecret ? field('Remove the client secret (make it a public client)', { type: 'checkbox', name: 'removeSecret', id: `${prefix}-remove-secret` }) : null,
    scopes: field('Scopes', { name: 'scopes', autocomplete: 'off', id: `${prefix}-scopes`, value: p ? p.scopes.join(' ') : null, placeholder: 'profile email' },
      { hint: 'Asked for besides openid, separated by spaces. Empty: profile email.' }),
    usernameClaim: field('Username claim', { name: 'usernameClaim', autocomplete: 'off', id: `${prefix}-username-claim`, value: p ? p.usernameClaim : null, placeholder: 'preferred_username' }),
    groupsClaim: field('Groups claim', { name: 'groupsClaim', autocomplete: 'off', id: `${prefix}-groups-claim`, value: p ? p.groupsClaim : null, placeholder: 'groups' }),
    jitUsers: field('Create users at their first sign-in (when a mapping holds)', { type: 'checkbox', name: 'jitUsers', id: `${prefix}-jit`, checked: p ? p.jitUsers : false }),
    enabled: field('Enabled (offered on the sign-in page)', { type: 'checkbox', name: 'enabled', id: `${prefix}-enabled`, checked: p ? p.enabled : true }),
  };
  const errorFields = [['issuer', f.issuer], ['client id', f.clientId], ['client_id', f.clientId], ['clientid', f.clientId],
    ['secret', f.clientSecret], ['scope', f.scopes], ['username', f.usernameClaim], ['group', f.groupsClaim], ['name', f.name]];
  return { f, errorFields };
}

function checkProvider(f, creating) {
  const name = f.name.control.value.trim();
  let ok = check(f.name, name.length > 0, 'Give the provider a name.');
  if (creating) {
    const iss = f.issuer.control.value.trim();
    ok = check(f.issuer, /^https?:\/\/[^\s/?#]+/.test(iss) && !/[?#]/.test(iss), 'The issuer is a URL like https://login.example.com, without ? or #.') && ok;
  }
  ok = check(f.clientId, f.clientId.control.value.trim().length > 0, 'Give the client id Signet is registered under.') && ok;
  return ok;
}

export async function ssoPage() {
  const role = (api.session.user || {}).role;
  if (role !== 'owner') {
    screen('Single sign-on', h('p', { class: 'muted' }, 'Single sign-on is managed by owners.'));
    return;
  }
  // No interim "Loading" screen: the page before stays, marked busy by the router, until this
  // one is ready (issue 16, bug 10), as on every other page.
  await render({});
}

/**
 * What the person has typed into the page's forms, by control id, except in the form `skip`
 * (the one just saved) and in password fields: a reload after one action must not wipe a
 * half-filled form elsewhere on the page.
 */
function drafts(skip) {
  const out = new Map();
  for (const el of document.querySelectorAll('#main form input, #main form select')) {
    if (!el.id || el.type === 'password' || (skip && el.form && el.form.id === skip)) continue;
    out.set(el.id, el.type === 'checkbox' ? el.checked : el.value);
  }
  return out;
}

function restore(saved) {
  for (const [id, v] of saved) {
    const el = document.getElementById(id);
    if (!el) continue;
    if (el.type === 'checkbox') el.checked = v;
    else el.value = v;
  }
}

/**
 * Draws the page from fresh data; `notice` is a provider just added, `focus` what to focus,
 * `saved` the form just saved (its fields start afresh; every other form keeps its draft).
 */
async function render({ notice, focus, saved }) {
  const kept = saved ? drafts(saved) : new Map();
  const [{ providers = [] }, vault, { users = [] }, { projects = [] }] = await Promise.all([
    api.get('/v1/admin/sso/providers'), api.get('/v1/admin/vault'), api.get('/v1/admin/users'), api.get('/v1/admin/projects'),
  ]);
  const reload = (opts = {}) => render(opts);
  const projectName = (id) => (projects.find((p) => p.id === id) || { name: id }).name;

  const rows = providers.map((p) => [
    p.name, breakable(p.issuer),
    h('span', { class: 'stack-xs' }, breakable(p.clientId), p.hasClientSecret ? badge('secret set', 'ok') : badge('public client')),
    p.jitUsers ? 'yes' : 'no',
    badge(p.enabled ? 'enabled' : 'disabled', p.enabled ? 'ok' : 'warn'),
    copyableUrl(p.redirectUri),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'small', id: `sso-edit-${p.id}`, 'aria-label': `Edit ${p.name}`, on: { click: () => editDialog(p, reload) } }, 'Edit'),
      h('button', { type: 'button', class: 'small danger', id: `sso-delete-${p.id}`, 'aria-label': `Delete ${p.name}`, on: { click: () => deleteDialog(p, reload) } }, 'Delete')),
  ]);

  const main = screen('Single sign-on',
    h('p', { class: 'muted' }, 'People sign in through your organisation\u2019s OpenID Connect provider. Register the redirect URI shown for each provider at the provider, then map claims to roles: a person no mapping holds for is refused.'),
    notice ? h('div', { class: 'callout', id: 'sso-added', role: 'status' },
      h('p', null, `${notice.name} is trusted. Register this redirect URI at the provider:`), copyableUrl(notice.redirectUri, 'Copy redirect URI')) : null,
    card('Providers', h('div', { class: 'sso-providers' }, table('Providers', ['Name', 'Issuer', 'Client id', 'JIT users', 'Enabled', 'Redirect URI', 'Actions'], rows,
      'No providers yet. Add one below.'))),
    card('Add a provider', addForm(reload)),
    providers.map((p) => mappingsCard(p, projects, projectName, reload)),
    card('Sign-in policy', policyForm(vault, users, providers, reload)));
  if (main.isConnected) restore(kept);
  if (focus && main.isConnected) {
    const el = typeof focus === 'string' ? document.getElementById(focus) : focus;
    if (el) el.focus();
  }
}

function addForm(reload) {
  const { f, errorFields } = providerFields('sso-add', null);
  return submitForm('sso-add', [f.name, f.issuer, f.clientId, f.clientSecret, f.scopes, f.usernameClaim, f.groupsClaim, f.jitUsers, f.enabled],
    'Add provider', async (form, general) => {
      if (!checkProvider(f, true)) { firstInvalid(form); return; }
      const body = {
        name: f.name.control.value.trim(),
        issuer: f.issuer.control.value.trim(),
        clientId: f.clientId.control.value.trim(),
        jitUsers: f.jitUsers.control.checked,
        enabled: f.enabled.control.checked,
      };
      if (f.clientSecret.control.value) body.clientSecret = f.clientSecret.control.value;
      const scopes = parseScopes(f.scopes.control.value);
      if (scopes.length) body.scopes = scopes;
      if (f.usernameClaim.control.value.trim()) body.usernameClaim = f.usernameClaim.control.value.trim();
      if (f.groupsClaim.control.value.trim()) body.groupsClaim = f.groupsClaim.control.value.trim();
      let p;
      try {
        p = await api.post('/v1/admin/sso/providers', body);
      } catch (e) {
        f.clientSecret.control.value = '';
        placeError(e, errorFields, general, { conflict: [f.name, 'A provider of that name is trusted already.'] });
        return;
      }
      form.reset();
      await reload({ notice: p, saved: 'sso-add' });
      const copy = document.querySelector('#sso-added button');
      if (copy) copy.focus();
      announce(`Provider ${p.name} added.`);
    });
}

function editDialog(p, reload) {
  const { f, errorFields } = providerFields(`sso-edit-form-${p.id}`, p);
  const cancel = button('Cancel', () => d.close());
  const form = submitForm(`sso-edit-form-${p.id}`, [
    h('dl', { class: 'props' }, h('dt', null, 'Issuer'), h('dd', null, mono(p.issuer))),
    f.name, f.clientId, f.clientSecret, f.removeSecret, f.scopes, f.usernameClaim, f.groupsClaim, f.jitUsers, f.enabled,
  ], 'Save provider', async (el, general) => {
    if (!checkProvider(f, false)) { firstInvalid(el); return; }
    const body = {};
    const name = f.name.control.value.trim();
    if (name !== p.name) body.name = name;
    const clientId = f.clientId.control.value.trim();
    if (clientId !== p.clientId) body.clientId = clientId;
    if (f.removeSecret && f.removeSecret.control.checked) body.clientSecret = '';
    else if (f.clientSecret.control.value) body.clientSecret = f.clientSecret.control.value;
    const scopes = parseScopes(f.scopes.control.value);
    if (!sameList(scopes, p.scopes)) body.scopes = scopes;
    const uc = f.usernameClaim.control.value.trim();
    if (uc && uc !== p.usernameClaim) body.usernameClaim = uc;
    const gc = f.groupsClaim.control.value.trim();
    if (gc && gc !== p.groupsClaim) body.groupsClaim = gc;
    if (f.jitUsers.control.checked !== p.jitUsers) body.jitUsers = f.jitUsers.control.checked;
    if (f.enabled.control.checked !== p.enabled) body.enabled = f.enabled.control.checked;
    if (!Object.keys(body).length) { d.close(); announce('Nothing changed.'); return; }
    try {
      await api.post(`/v1/admin/sso/providers/${api.seg(p.id)}/update`, body);
    } catch (e) {
      f.clientSecret.control.value = '';
      placeError(e, errorFields, general, { conflict: [f.name, 'A provider of that name is trusted already.'] });
      return;
    }
    d.close();
    await reload({ focus: `sso-edit-${p.id}`, saved: 'none' });
    announce(`Provider ${body.name || p.name} saved.`);
  }, [cancel]);
  const d = modal(`Edit ${p.name}`, form, [], { returnFocus: () => document.getElementById(`sso-edit-${p.id}`) });
  d.classList.add('wide');
  f.name.control.focus();
}

function deleteDialog(p, reload) {
  const typed = field(`Type ${p.name} to confirm`, { name: 'confirm', autocomplete: 'off', id: `sso-delete-confirm-${p.id}` });
  const del = h('button', { type: 'submit', class: 'danger', disabled: true }, `Delete provider ${p.name}`);
  const err = h('p', { class: 'error-text', role: 'alert' });
  typed.control.addEventListener('input', () => { del.disabled = typed.control.value !== p.name; });
  const f = h('form', { class: 'stack', novalidate: true },
    h('p', null, `This removes ${p.name}, its ${p.mappings.length} mapping${p.mappings.length === 1 ? '' : 's'} and every identity linked through it. People keep their accounts but can no longer sign in with ${p.name}.`),
    typed, err,
    h('div', { class: 'actions' }, button('Cancel', () => d.close()), del));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (typed.control.value !== p.name) {
      fieldError(typed, `Type the name exactly: ${p.name}`);
      typed.control.focus();
      return;
    }
    del.disabled = true;
    f.setAttribute('aria-busy', 'true');
    try {
      await api.post(`/v1/admin/sso/providers/${api.seg(p.id)}/delete`, {});
    } catch (e) {
      err.textContent = e.code === 'step_up_cancelled' ? 'Confirmation cancelled; nothing was deleted.' : sentence(e.message);
      del.disabled = false;
      f.setAttribute('aria-busy', 'false');
      return;
    }
    d.close();
    await reload({ focus: 'sso-add-name', saved: 'none' });
    announce(`Provider ${p.name} deleted.`);
  });
  const d = modal(`Delete ${p.name}`, f, [], { returnFocus: () => document.getElementById('sso-add-name') });
  typed.control.focus();
}

function mappingsCard(p, projects, projectName, reload) {
  const prefix = `sso-map-${p.id}`;
  const rows = p.mappings.map((m) => [
    String(m.position), mono(m.claim), mono(m.value), badge(m.role),
    m.projectIds.length ? m.projectIds.map(projectName).join(', ') : 'every project',
    h('button', {
      type: 'button', class: 'small danger', id: `${prefix}-delete-${m.id}`, 'aria-label': `Delete mapping ${m.claim} = ${m.value}`,
      on: {
        click: async (ev) => {
          const b = ev.currentTarget;
          if (!(await confirmDialog(`Delete the mapping ${m.claim} = ${m.value} (${m.role}) of ${p.name}? People it alone admitted are refused at their next sign-in.`))) return;
          b.disabled = true;
          try {
            await api.post(`/v1/admin/sso/providers/${api.seg(p.id)}/mappings/${api.seg(m.id)}/delete`, {});
            await reload({ focus: `${prefix}-claim`, saved: 'none' });
            announce('Mapping deleted.');
          } catch (e) {
            b.disabled = false;
            fail(e);
          }
        },
      },
    }, 'Delete'),
  ]);
  const claim = field('Claim', { name: 'claim', autocomplete: 'off', id: `${prefix}-claim`, value: p.groupsClaim || 'groups', 'aria-describedby': `${prefix}-how` });
  const value = field('Value', { name: 'value', autocomplete: 'off', id: `${prefix}-value`, placeholder: 'signet-admins' });
  const roleF = field('Role', { name: 'role', id: `${prefix}-role`, options: ROLES }, { tag: 'select' });
  const picker = projectPicker(projects, [], `${prefix}-p`);
  const add = submitForm(`${prefix}-form`, [h('div', { class: 'fieldrow' }, claim, value, roleF), picker], 'Add mapping', async (f, general) => {
    const c = claim.control.value.trim();
    const v = value.control.value.trim();
    let ok = check(claim, c.length > 0, 'Name the claim to test, for example groups.');
    ok = check(value, v.length > 0, 'Give the value the claim must equal or contain.') && ok;
    if (!ok) { firstInvalid(f); return; }
    const r = roleF.control.value;
    const body = { claim: c, value: v, role: r, projectIds: r === 'developer' || r === 'viewer' ? pickedProjects(f) : [] };
    try {
      await api.post(`/v1/admin/sso/providers/${api.seg(p.id)}/mappings`, body);
    } catch (e) {
      placeError(e, [['claim', claim], ['value', value], ['role', roleF]], general);
      return;
    }
    await reload({ focus: `${prefix}-value`, saved: `${prefix}-form` });
    announce(`Mapping ${c} = ${v} added to ${p.name}.`);
  });
  return card(`Mappings: ${p.name}`,
    h('p', { class: 'muted small' }, 'Tried in order at every sign-in; the first that holds decides the role and projects.'),
    table(`Mappings of ${p.name}`, ['Order', 'Claim', 'Value', 'Role', 'Projects', 'Actions'], rows, 'No mappings yet: nobody can sign in through this provider.'),
    h('div', { class: 'top-gap' }, h('p', { class: 'muted small', id: `${prefix}-how` }, 'A mapping holds when a string claim equals the value, or a list claim (such as groups) contains it.'), add));
}

function policyForm(vault, users, providers, reload) {
  const owners = users.filter((u) => u.role === 'owner' && u.status === 'active');
  const current = vault.breakGlassUser || '';
  const required = field('Require single sign-on', { type: 'checkbox', name: 'ssoRequired', id: 'sso-required', checked: vault.ssoRequired === true },
    { hint: 'Password, passkey and invitation sign-in are refused for everyone but the break-glass owner. Needs an enabled provider with a mapping.' });
  const options = (current ? [] : [['', 'None chosen']]).concat(owners.map((u) => [u.id, u.username]));
  if (current && !owners.some((u) => u.id === current)) options.unshift([current, current]);
  const breakGlass = field('Break-glass owner', { name: 'breakGlassUser', id: 'sso-break-glass', options }, {
    tag: 'select',
    hint: 'An active owner with a password and an authenticator or passkey: the one person who may still sign in without SSO. Never signs in through SSO.',
  });
  breakGlass.control.value = current;
  const trust = field('Trust the provider\u2019s second factor', { type: 'checkbox', name: 'ssoTrustProviderMfa', id: 'sso-trust-mfa', checked: vault.ssoTrustProviderMfa === true },
    { hint: 'When the ID token says a second factor was used (amr) within the step-up window, it confirms sensitive actions; otherwise Signet asks for its own.' });
  const usable = providers.some((p) => p.enabled && p.mappings.length);
  return submitForm('sso-policy', [required, breakGlass, trust], 'Save sign-in policy', async (f, general) => {
    const body = {};
    const wantRequired = required.control.checked;
    const bg = breakGlass.control.value;
    if (wantRequired && !vault.ssoRequired) {
      let ok = check(breakGlass, Boolean(bg), 'Choose a break-glass owner before requiring single sign-on.');
      ok = check(required, usable, 'Add an enabled provider with at least one mapping first.') && ok;
      if (!ok) { firstInvalid(f); return; }
    }
    if (bg && bg !== current) body.breakGlassUser = bg;
    if (wantRequired !== (vault.ssoRequired === true)) body.ssoRequired = wantRequired;
    if (trust.control.checked !== (vault.ssoTrustProviderMfa === true)) body.ssoTrustProviderMfa = trust.control.checked;
    if (!Object.keys(body).length) { announce('Nothing changed.'); return; }
    try {
      await api.post('/v1/admin/vault/settings', body);
    } catch (e) {
      placeError(e, [['break', breakGlass], ['owner', breakGlass], ['mfa', trust], ['factor', trust], ['mapping', required], ['provider', required], ['sso', required]], general);
      return;
    }
    await reload({ focus: 'sso-required', saved: 'sso-policy' });
    announce('Sign-in policy saved.');
  });
}
