// Building blocks of a page. Everything goes through createElement and textContent: names,
// hostnames and audit details come from machines and users, so they are never parsed as HTML.

let fieldSeq = 0;

/**
 * h('button', {class: 'primary', on: {click}}, 'Save'): props are attributes, except `class`,
 * `on` (event listeners) and boolean DOM properties; children are nodes or text.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      } else if (k === 'class') {
        el.className = v;
      } else if (k === 'checked' || k === 'value' || k === 'disabled' || k === 'selected') {
        el[k] = v;
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** A labelled input; returns the wrapper, with the control as `.control`. */
export function field(label, props = {}, { hint, tag = 'input' } = {}) {
  const { options, ...attrs } = props;
  const id = attrs.id || `f${++fieldSeq}`;
  const control = h(tag, { ...attrs, id });
  if (tag === 'select') {
    for (const o of options || []) {
      const [value, text] = Array.isArray(o) ? o : [o, o];
      control.appendChild(h('option', { value }, text));
    }
  }
  const hintEl = hint ? h('span', { class: 'muted small', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  const wrap = h('div', { class: props.type === 'checkbox' ? 'field check' : 'field' },
    props.type === 'checkbox' ? [control, h('label', { for: id }, label)] : [h('label', { for: id }, label), control],
    hintEl);
  wrap.control = control;
  return wrap;
}

/** A table with column headers; rows are arrays of cells (text or nodes). */
export function table(caption, headers, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p', { class: 'muted' }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', null,
      h('caption', { class: 'sr-only' }, caption),
      // A column without a title holds row actions: its header still says so to a screen
      // reader (an empty <th> is announced as nothing).
      h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' },
        t === '' || t === null || t === undefined ? h('span', { class: 'sr-only' }, 'Actions') : t)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) =>
        // data-label lets a phone show each row as a labelled card (see app.css).
        i === 0 ? h('th', { scope: 'row' }, c) : h('td', { 'data-label': headers[i] || null }, c)))))));
}

let statusTimer = 0;

/** Tells sighted and screen-reader users the result of an action. */
export function announce(text, kind = 'info') {
  const s = document.getElementById('status');
  if (!s) return;
  clearTimeout(statusTimer);
  s.className = kind === 'error' ? 'status error' : 'status';
  s.textContent = text;
  statusTimer = setTimeout(() => { s.textContent = ''; }, kind === 'error' ? 9000 : 5000);
}

export function fail(e) {
  // In plain words (`explain`), never the server's code words such as `conflict: last_owner`.
  announce(e && (e.code || e.message) ? explain(e).text : String(e), 'error');
}

export function when(ms) {
  if (ms === null || ms === undefined || ms === 0) return '—';
  const d = new Date(Number(ms));
  return h('time', { datetime: d.toISOString(), title: d.toISOString() },
    d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }));
}

export function badge(text, kind = '') {
  return h('span', { class: kind ? `badge ${kind}` : 'badge' }, text);
}

export function mono(text) {
  return h('code', null, text ?? '');
}

export function button(text, onClick, cls = '') {
  return h('button', { type: 'button', class: cls || null, on: { click: onClick } }, text);
}

/** Runs an action, disabling the button meanwhile and reporting its outcome. */
export function action(text, fn, { cls = '', done, confirmText, confirmAction, typeName } = {}) {
  const b = button(text, async () => {
    if (typeName && !(await typeToConfirm(typeName, confirmAction || text, confirmText))) return;
    // The confirm button says "Confirm" unless the page names the action (`confirmAction:
    // 'Delete project payments'`), as destructive actions should.
    if (!typeName && confirmText && !(await confirmDialog(confirmText, {
      action: confirmAction || 'Confirm', danger: Boolean(confirmAction) && /danger/.test(cls),
    }))) return;
    b.disabled = true;
    try {
      await fn();
      if (done) announce(done);
    } catch (e) {
      fail(e);
    } finally {
      b.disabled = false;
    }
  }, cls);
  return b;
}

/** A value shown once, with a copy button. */
export function copyable(text, label = 'Copy') {
  const code = h('code', null, text);
  return h('div', { class: 'copyrow' }, code, copyButton(text, label === 'Copy' ? 'value' : label, code, label));
}

/**
 * A small "Copy" button for `text` (an id, a fingerprint, a command). Its accessible name says
 * what it copies ("Copy machine id"); after a copy it reads "Copied" for two seconds. Without
 * clipboard access (plain http, a refused permission) it selects `selectEl` (or nothing) and
 * says to press Ctrl+C.
 */
export function copyButton(text, what = 'value', selectEl = null, visible = 'Copy') {
  const b = h('button', { type: 'button', class: 'small copy', 'aria-label': `Copy ${what}` }, visible);
  let timer = 0;
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      clearTimeout(timer);
      b.textContent = 'Copied';
      b.classList.add('copied');
      b.setAttribute('aria-label', `Copied ${what}`);
      announce(`Copied ${what} to the clipboard.`);
      timer = setTimeout(() => {
        b.textContent = visible;
        b.classList.remove('copied');
        b.setAttribute('aria-label', `Copy ${what}`);
      }, 2000);
    } catch {
      if (selectEl) {
        const r = document.createRange();
        r.selectNodeContents(selectEl);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(r);
      }
      announce(selectEl ? 'Selected; press Ctrl+C to copy.' : 'The browser refused the clipboard.', 'error');
    }
  });
  return b;
}

/** An id (or fingerprint) in monospace that never wraps mid-token, with its copy button. */
export function idCell(text, what = 'id') {
  if (!text) return '—';
  const code = h('code', { class: 'id' }, text);
  return h('span', { class: 'id-cell' }, code, copyButton(text, what, code));
}

/**
 * A modal built on <dialog>: focus is trapped and Escape cancels, for free. On close, focus goes
 * back to what opened it. When a reload replaced that element, it goes to `returnFocus()`'s
 * answer, else to the new element with the opener's id or its text (the same button on the
 * re-rendered page), else to the page's heading: never to the body.
 */
export function modal(title, body, buttons, { returnFocus, cls } = {}) {
  const id = `d${++fieldSeq}`;
  // A form's submit button is disabled while its request runs, which drops focus to the body:
  // then the opener is the element focused last.
  const active = document.activeElement;
  const opener = active && active !== document.body ? active : lastFocused;
  const key = opener && opener !== document.body
    ? { id: opener.id, text: (opener.textContent || '').trim(), tag: opener.tagName, label: opener.getAttribute('aria-label') }
    : null;
  const d = h('dialog', { 'aria-labelledby': id, class: cls || null }, h('h2', { id }, title), body,
    h('div', { class: 'actions' }, buttons));
  document.body.appendChild(d);
  d.addEventListener('close', () => {
    d.remove();
    // The close event comes before a caller's reload finishes: wait until the page is no longer
    // busy (a few frames at most), then place focus.
    let tries = 0;
    const place = () => {
      if (document.querySelector('dialog[open]')) return;
      const main = document.getElementById('main');
      if ((main && main.getAttribute('aria-busy') === 'true') && tries++ < 40) { setTimeout(place, 50); return; }
      let target = opener && opener.isConnected && opener !== document.body ? opener : (returnFocus && returnFocus());
      if ((!target || !target.isConnected) && key) target = findLike(key);
      if (!target || !target.isConnected) {
        if (tries++ < 10) { setTimeout(place, 50); return; }
        target = (main && main.querySelector('h1')) || main;
      }
      // The opener may still be disabled for a moment (its form re-enables it when done).
      if (target && target.disabled && tries++ < 40) { setTimeout(place, 50); return; }
      if (target && target.isConnected) {
        if (target.tabIndex < 0 && !target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
        target.focus({ preventScroll: false });
        if (key) keepFocusThroughRedraw(target, key);
      }
    };
    setTimeout(place, 0);
  });
  d.showModal();
  return d;
}

/**
 * A caller that saves in a dialog often redraws its list in place a moment after the dialog
 * closes (no `aria-busy` on the page for that), which removes the element focus went back to
 * and drops focus to the body. For a short while, put it on the element that now stands in
 * its place; the person moving focus themselves ends the watch.
 */
function keepFocusThroughRedraw(placed, key) {
  const main = document.getElementById('main');
  if (!main) return;
  let current = placed;
  const stop = () => { watch.disconnect(); clearTimeout(timer); document.removeEventListener('focusin', moved); };
  const moved = (ev) => { if (ev.target !== current) stop(); };
  const watch = new MutationObserver(() => {
    if (current.isConnected) return;
    const active = document.activeElement;
    if (active && active !== document.body) { stop(); return; }
    const again = findLike(key);
    if (!again) return;
    current = again;
    if (again.tabIndex < 0 && !again.hasAttribute('tabindex')) again.setAttribute('tabindex', '-1');
    again.focus({ preventScroll: true });
  });
  watch.observe(main, { childList: true, subtree: true });
  const timer = setTimeout(stop, 3000);
  document.addEventListener('focusin', moved);
}

/** The element focused last outside a dialog (see `modal`). */
let lastFocused = null;
document.addEventListener('focusin', (ev) => {
  if (ev.target instanceof Element && !ev.target.closest('dialog')) lastFocused = ev.target;
});

/** The element on the current page that stands where `key` (an opener that is gone) stood. */
function findLike(key) {
  if (key.id) {
    const el = document.getElementById(key.id);
    if (el) return el;
  }
  const main = document.getElementById('main');
  if (!main) return null;
  for (const el of main.querySelectorAll(key.tag ? key.tag.toLowerCase() : 'button')) {
    if (el.disabled) continue;
    if (key.label && el.getAttribute('aria-label') === key.label) return el;
    if (!key.label && key.text && (el.textContent || '').trim() === key.text) return el;
  }
  return null;
}

/**
 * Asks to confirm `text`. The confirm button names the action (`Delete project payments`), not
 * a bare "Confirm"; `danger` paints it as destructive. Resolves true when confirmed.
 */
export function confirmDialog(text, { action: label = 'Confirm', danger = false, title = 'Please confirm' } = {}) {
  return new Promise((resolve) => {
    let ok = false;
    const d = modal(title, typeof text === 'string' ? h('p', null, text) : text, [
      button('Cancel', () => d.close()),
      button(label, () => { ok = true; d.close(); }, danger ? 'danger-solid' : 'primary'),
    ]);
    d.addEventListener('close', () => resolve(ok));
  });
}

/**
 * A destructive action confirmed by typing a name: the button (`Delete project payments`) stays
 * disabled until the field holds exactly `name`. `detail` says what is lost. Resolves true when
 * confirmed.
 */
export function typeToConfirm(name, label, detail) {
  return new Promise((resolve) => {
    let ok = false;
    const input = field(`Type ${name} to confirm`, { autocomplete: 'off', spellcheck: 'false', 'data-confirm': name });
    const go = h('button', { type: 'submit', class: 'danger-solid', disabled: true }, label);
    input.control.addEventListener('input', () => { go.disabled = input.control.value !== name; });
    const f = h('form', { class: 'stack', method: 'dialog' },
      detail ? (typeof detail === 'string' ? h('p', null, detail) : detail) : null, input);
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (input.control.value !== name) return;
      ok = true;
      d.close();
    });
    const d = modal(label, f, [button('Cancel', () => d.close()), go]);
    // The submit button sits in the dialog's action row, outside the form: submit it by hand.
    go.addEventListener('click', () => f.requestSubmit());
    d.addEventListener('close', () => resolve(ok));
    input.control.focus();
  });
}

/** The page's heading plus a container, replacing what `main` showed. */
/** The address the newest page render started for (app.js sets it at every render). */
let currentRoute = null;

export function beginRoute(hash) {
  currentRoute = hash;
}

export function screen(title, ...children) {
  // A page whose data arrived after the user had moved on must not replace the newer page: its
  // screen goes to a detached element instead.
  if (currentRoute !== null && location.hash !== currentRoute) return document.createElement('main');
  const main = document.getElementById('main');
  clear(main);
  main.className = '';
  document.title = `${title} · Signet`;
  main.appendChild(h('h1', null, title));
  append(main, children);
  return main;
}

export function card(title, ...children) {
  return h('section', { class: 'card', 'aria-label': title || null }, title ? h('h2', null, title) : null, children);
}

/** Form values as an object, by each control's name. */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === 'checkbox' ? el.checked : el.value;
  }
  return out;
}

/** A form whose submit runs `fn(values)`, with its button disabled meanwhile. */
export function form(cls, fields, submitText, fn, { fieldsFor } = {}) {
  const submit = h('button', { type: 'submit', class: 'primary' }, submitText);
  const alert = formAlert();
  // novalidate: the browser's own bubbles vanish and are not linked to their field; the same
  // checks (required, pattern, type, length) are shown as field errors instead (`invalidFields`).
  const f = h('form', { class: cls, novalidate: true }, alert, fields, h('div', { class: 'actions' }, submit));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearFormErrors(f);
    if (invalidFields(f)) return;
    submit.disabled = true;
    f.setAttribute('aria-busy', 'true');
    try {
      await fn(values(f), f);
    } catch (e) {
      if (e && e.status === 401) return;
      showError(f, e, fieldsFor);
    } finally {
      submit.disabled = false;
      f.setAttribute('aria-busy', 'false');
    }
  });
  return f;
}

/**
 * Shows `text` as the error of a field made by `field()` (or clears it when `text` is empty):
 * next to the control, linked by aria-describedby, with aria-invalid, so a screen reader reads
 * it with the field and the person sees which field it is about.
 */
export function fieldError(wrap, text) {
  const c = wrap.control;
  const id = `${c.id}-error`;
  let el = wrap.querySelector(`[id="${id}"]`);
  const described = (c.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== id);
  if (!text) {
    if (el) el.remove();
    c.removeAttribute('aria-invalid');
    if (described.length) c.setAttribute('aria-describedby', described.join(' '));
    else c.removeAttribute('aria-describedby');
    return;
  }
  if (!el) {
    el = h('span', { class: 'error-text field-error', id });
    wrap.appendChild(el);
  }
  el.textContent = text;
  c.setAttribute('aria-invalid', 'true');
  c.setAttribute('aria-describedby', [...described, id].join(' '));
}

/** Clears every field error inside `root`. */
export function clearFieldErrors(root) {
  for (const el of root.querySelectorAll('.field-error')) {
    const wrap = el.closest('.field');
    if (wrap && wrap.control) fieldError(wrap, '');
    else el.remove();
  }
}

/** An error sentence from a server message: `issuer must be …` becomes `Issuer must be ….` */
export function sentence(text) {
  const t = String(text || '').trim();
  if (!t) return 'Something went wrong.';
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(s) ? s : `${s}.`;
}

// ---- Errors in plain words, next to their field ----------------------------------------------

/**
 * What a conflict rule (`conflict: project_name`) means, and the form fields (by `name`) it is
 * about, first match wins. Rules come from `Conflict::as_str` in crates/store/src/lib.rs.
 */
const CONFLICTS = {
  id: ['That already exists.', []],
  vault: ['The vault already exists.', []],
  project_name: ['A project with this name already exists. Choose another name.', ['name', 'project', 'projectName']],
  secret_name: ['A secret with this name already exists in this project.', ['name', 'secretName', 'secret']],
  version: ['Someone changed this meanwhile. Reload and try again.', []],
  public_key: ['This key is already registered.', ['publicKey']],
  cidr: ['This range is already in the list.', ['cidr']],
  username: ['This username is taken.', ['username']],
  email: ['An account or invitation with this email already exists.', ['email']],
  token_hash: ['That token already exists; try again.', []],
  invite_code: ['That invitation already exists; try again.', []],
  invite_spent: ['This invitation was already used.', []],
  credential_id: ['This passkey is already registered.', []],
  passkey_limit: ['You have as many passkeys as an account can hold. Remove one first.', []],
  passkey_exists: ['This passkey is already registered.', []],
  last_owner: ['The vault needs at least one active owner: make someone else owner first.', ['role']],
  users_exist: ['Setup is done already: sign in instead.', []],
  not_empty: ['It is not empty: remove what it holds first.', []],
  public_key_taken: ['This key is already registered.', ['publicKey']],
  machine_state: ['The machine changed state meanwhile. Reload and try again.', []],
  policy_name: ['A policy with this name already exists.', ['name']],
  policy_in_use: ['This policy is still in use.', []],
  share_spent: ['This link was already used.', []],
  rotation_claimed: ['A rotation is already in progress.', []],
  connection_name: ['A connection with this name already exists.', ['name']],
  connection_in_use: ['This connection is still in use.', []],
  issuer_name: ['An issuer of that name or URL is trusted already.', ['name', 'issuer', 'url']],
};

/** Plain sentences for error codes whose server message is terse (crates/api/src/error.rs). */
const CODES = {
  access_denied: 'Your role does not allow this.',
  authentication_failed: 'You are signed out. Sign in again.',
  csrf_refused: 'The request was refused as cross-site. Reload the page and try again.',
  internal: 'Something went wrong on the server. Try again; if it persists, the server log says more.',
  invite_refused: 'This invitation link is not valid: it was used, expired or revoked.',
  not_found: 'It does not exist (any more).',
  payload_too_large: 'That is too large to send.',
  rate_limited: 'Too many attempts. Wait a minute and try again.',
  unavailable: 'The server cannot reach its storage right now. Nothing was changed; try again soon.',
  step_up_required: 'This action needs a fresh second factor.',
  setup_closed: 'This setup link was already used or has expired.',
  network: 'The server could not be reached. Check your connection and try again.',
  version_conflict: 'Someone changed this meanwhile. Reload to see the current version, then try again.',
  project_frozen: 'This project is frozen because a canary secret in it was read.',
  wrong_factor: 'That is not right. Check it and try again.',
  code_reused: 'That code was used already. Wait for the next one, then enter it.',
};

/**
 * An error as a person should read it: `{ text, fields }`, `fields` being the form field names
 * it is about (most likely first). Validation messages that name a field in backticks
 * (`` `name` must be … ``) point at that field.
 */
export function explain(e) {
  const code = (e && e.code) || '';
  const message = (e && e.message) || '';
  if (code === 'conflict') {
    const rule = message.replace(/^conflict:\s*/, '').split(/[:\s]/)[0];
    const row = CONFLICTS[rule];
    if (row) return { text: row[0], fields: row[1] };
    const rest = message.replace(/^conflict:\s*[a-z_]+:?\s*/, '');
    return { text: rest ? sentence(rest) : 'That conflicts with what is stored. Reload and try again.', fields: [] };
  }
  if (code === 'malformed_request' || code === 'weak_password' || code === 'invalid_name' || code === 'empty_value') {
    const named = [...message.matchAll(/`([A-Za-z][A-Za-z0-9_]*)`/g)].map((m) => m[1]);
    const fields = code === 'weak_password' ? ['newPassword', 'password', ...named] : named;
    return { text: sentence(message.replace(/`/g, '')), fields };
  }
  if (CODES[code]) return { text: CODES[code], fields: [] };
  return { text: sentence(message), fields: [] };
}

/** A form's alert region: empty (and hidden) until a form-level error is shown in it. */
export function formAlert() {
  return h('div', { class: 'form-alert', role: 'alert' });
}

/**
 * Shows error `e` on form `f`: next to the field it is about (by control `name`, see
 * `explain`; `fieldsFor(e)` may name others), else in the form's alert region. The field gets
 * focus, so the person lands on what to fix.
 */
export function showError(f, e, fieldsFor) {
  const { text, fields } = explain(e);
  const names = [...((fieldsFor && fieldsFor(e)) || []), ...fields];
  for (const n of names) {
    const c = f.elements && f.elements.namedItem(n);
    const wrap = c && c.closest && c.closest('.field');
    if (wrap && !wrap.hidden) {
      fieldError(wrap, text);
      c.focus();
      return;
    }
  }
  let alert = f.querySelector(':scope > .form-alert, .form-alert');
  if (!alert) {
    alert = formAlert();
    f.prepend(alert);
  }
  alert.textContent = text;
}

/**
 * Checks every control of form `f` against its own constraints (`required`, `pattern`, `type`,
 * `minlength`…) and shows each failure as a field error, the field's `title` (if any) saying
 * what is expected. Focuses the first. Returns whether any failed.
 */
export function invalidFields(f) {
  let first = null;
  for (const el of f.elements) {
    if (!el.willValidate || el.checkValidity()) continue;
    const wrap = el.closest('.field');
    if (!wrap || wrap.hidden) continue;
    if (!wrap.control) wrap.control = el;
    const v = el.validity;
    let text = el.validationMessage;
    if (v.valueMissing) text = 'Fill in this field.';
    else if (v.patternMismatch && el.title) text = sentence(el.title);
    else if (v.tooShort) text = `Use at least ${el.minLength} characters.`;
    fieldError(wrap, text);
    first = first || el;
  }
  if (first) first.focus();
  return first !== null;
}

/** Clears a form's field errors and its alert region. */
export function clearFormErrors(f) {
  clearFieldErrors(f);
  for (const a of f.querySelectorAll('.form-alert')) a.textContent = '';
}

// ---- Lists: search and filters ---------------------------------------------------------------

/**
 * A table with a search box and optional select filters above it, filtered in the browser:
 * `filteredTable({ caption, headers, items, row, text, filters, empty, label })`. `row(item)`
 * gives the cells, `text(item)` the words the search matches (case-insensitive, every word
 * must appear), `filters` is a list of `{ label, options: [[value, text]…], test(item, value) }`
 * whose first option is "all" (value ''). A live line says how many rows are shown.
 */
export function filteredTable({ caption, headers, items, row, text, filters = [], empty = 'Nothing here yet.', label = 'Search' }) {
  if (!items.length) return h('p', { class: 'muted' }, empty);
  const box = h('div', { class: 'list-filter' });
  const search = field(label, { type: 'search', autocomplete: 'off', spellcheck: 'false', 'data-filter': 'search' });
  const selects = filters.map((flt) => {
    const f = field(flt.label, { options: flt.options, 'data-filter': flt.label }, { tag: 'select' });
    f.control.addEventListener('change', draw);
    return { ...flt, control: f.control, wrap: f };
  });
  const count = h('p', { class: 'muted small filter-count', role: 'status' });
  const slot = h('div');
  search.control.addEventListener('input', draw);
  box.append(h('div', { class: 'filter-bar' }, search, selects.map((x) => x.wrap)), count, slot);
  function draw() {
    const words = search.control.value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = items.filter((it) => {
      const hay = String(text(it) || '').toLowerCase();
      if (!words.every((w) => hay.includes(w))) return false;
      return selects.every((x) => !x.control.value || x.test(it, x.control.value));
    });
    clear(slot).appendChild(table(caption, headers, shown.map(row), 'Nothing matches the search.'));
    const filtered = shown.length !== items.length;
    count.textContent = filtered ? `${shown.length} of ${items.length} shown.` : '';
  }
  draw();
  return box;
}
