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
      h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
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
  announce(e && e.message ? e.message : String(e), 'error');
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
export function action(text, fn, { cls = '', done, confirmText } = {}) {
  const b = button(text, async () => {
    if (confirmText && !(await confirmDialog(confirmText))) return;
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
  const b = button(label, async () => {
    try {
      await navigator.clipboard.writeText(text);
      announce('Copied to the clipboard.');
    } catch {
      const r = document.createRange();
      r.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(r);
      announce('Selected; press Ctrl+C to copy.');
    }
  }, 'small');
  return h('div', { class: 'copyrow' }, code, b);
}

/**
 * A modal built on <dialog>: focus is trapped and Escape cancels, for free. On close, focus goes
 * back to what opened it, or, when a reload replaced that element, to `returnFocus()`'s answer.
 */
export function modal(title, body, buttons, { returnFocus } = {}) {
  const id = `d${++fieldSeq}`;
  const opener = document.activeElement;
  const d = h('dialog', { 'aria-labelledby': id }, h('h2', { id }, title), body,
    h('div', { class: 'actions' }, buttons));
  document.body.appendChild(d);
  d.addEventListener('close', () => {
    d.remove();
    // The close event comes before a caller's reload finishes: wait for it, then place focus.
    setTimeout(() => {
      if (document.querySelector('dialog[open]')) return;
      const target = (opener && opener.isConnected && opener !== document.body) ? opener : (returnFocus && returnFocus());
      if (target && target.isConnected) target.focus({ preventScroll: false });
    }, 0);
  });
  d.showModal();
  return d;
}

export function confirmDialog(text) {
  return new Promise((resolve) => {
    let ok = false;
    const d = modal('Please confirm', h('p', null, text), [
      button('Cancel', () => d.close()),
      button('Confirm', () => { ok = true; d.close(); }, 'primary'),
    ]);
    d.addEventListener('close', () => resolve(ok));
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
export function form(cls, fields, submitText, fn) {
  const submit = h('button', { type: 'submit', class: 'primary' }, submitText);
  const f = h('form', { class: cls, novalidate: null }, fields, h('div', { class: 'actions' }, submit));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    f.setAttribute('aria-busy', 'true');
    try {
      await fn(values(f), f);
    } catch (e) {
      fail(e);
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
