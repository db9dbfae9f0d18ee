// Secrets of a project. Values go in and are never shown back: the admin API does not return them.

import * as api from './api.js';
import { h, screen, card, table, when, mono, field, form, announce, badge, action, button, modal, fail, fieldError, filteredTable, idCell, explain, clearFieldErrors } from './page.js';

// What the server takes (crates/core/src/name.rs and secret.rs `check_field_name`), written for
// the `v` flag Chromium compiles `pattern` with: `-` and `/` inside a class must be escaped.
/** A secret name as the dashboard takes it: no spaces (a machine would read `db creds` as DB_CREDS). */
const NAME_PATTERN = '[A-Za-z0-9_.\\-\\/:@+]{1,255}';
/** The largest value the server stores, in bytes (crates/core/src/secret.rs `MAX_VALUE_BYTES`). */
const MAX_VALUE_BYTES = 1024 * 1024 - 4096;
/** A structured secret's field name. */
export const FIELD_PATTERN = '[A-Za-z0-9_.\\-]{1,64}';
/** What the browser says when a field name fails FIELD_PATTERN. */
const FIELD_TITLE = 'Use up to 64 letters, digits and _-. only (no spaces)';

/** Why `name` cannot name a secret, in words, or '' when it can. */
export function nameProblem(name) {
  if (!name) return 'Give the secret a name.';
  if (/\s/.test(name)) {
    const env = name.trim().replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '').toUpperCase();
    return `No spaces in a name: machines read it as an environment variable, so this one would silently become ${env || 'something else'}. Write ${env || 'a name without spaces'} yourself.`;
  }
  if (!new RegExp(`^${NAME_PATTERN}$`, 'v').test(name)) return 'Use up to 255 letters, digits and _-./:@+ only.';
  return '';
}

/** Refuses what the person typed: `text` next to the field `wrap`, which gets focus. */
function refuse(wrap, text) {
  fieldError(wrap, text);
  wrap.control.focus();
  throw new Error('Nothing was saved: check the marked field.');
}
import { policiesCard, policySelect } from './policies.js';

let seq = 0;

/** The value part of a secret form: one value, or named fields for a structured secret. */
function valueEditor(type, fieldNames = []) {
  const wrap = h('div', { class: 'stack-sm' });
  if (type === 'standard') {
    const v = field('Value', { name: 'value', autocomplete: 'off', spellcheck: 'false', required: true, id: `secret-value-${++seq}` },
      { tag: 'textarea', hint: 'Stored encrypted. Nobody sees it again here: only machines read values.' });
    wrap.appendChild(v);
    return {
      el: wrap,
      read: () => {
        if (v.control.value === '') refuse(v, 'A secret needs a value; this one is empty.');
        return { value: v.control.value };
      },
    };
  }
  const rows = h('div', { class: 'stack-sm' });
  const addRow = (name = '') => {
    const n = ++seq;
    const row = h('fieldset', { class: 'fieldrow' },
      h('legend', null, `Field ${rows.children.length + 1}`),
      field('Field name', { class: 'fname', value: name, autocomplete: 'off', pattern: FIELD_PATTERN, title: FIELD_TITLE, id: `fname-${n}` }),
      field('Field value', { class: 'fvalue', autocomplete: 'off', spellcheck: 'false', id: `fvalue-${n}` }),
      button('Remove field', () => row.remove(), 'small danger'));
    rows.appendChild(row);
  };
  (fieldNames.length ? fieldNames : ['']).forEach(addRow);
  wrap.append(rows, button('Add field', () => addRow(), 'small add-field'));
  return {
    el: wrap,
    read: () => {
      const fields = {};
      let bad = null;
      for (const row of rows.children) {
        const wrapName = row.querySelector('.fname').closest('.field');
        const wrapValue = row.querySelector('.fvalue').closest('.field');
        fieldError(wrapName, '');
        fieldError(wrapValue, '');
        const nameEl = wrapName.control;
        const name = nameEl.value;
        let problem = '';
        if (!name && !wrapValue.control.value) continue;
        // The browser checks `pattern` itself; its verdict is what the person sees marked.
        if (!name) problem = 'Give this field a name.';
        else if (nameEl.validity.patternMismatch) problem = 'Use up to 64 letters, digits and _-. only (no spaces).';
        else if (name in fields) problem = `There is a field ${name} already.`;
        if (problem) { fieldError(wrapName, problem); bad = bad || nameEl; continue; }
        if (wrapValue.control.value === '') { fieldError(wrapValue, 'Give this field a value.'); bad = bad || wrapValue.control; continue; }
        fields[name] = wrapValue.control.value;
      }
      if (bad) {
        bad.focus();
        throw new Error('Check the fields marked above; nothing was saved.');
      }
      if (!Object.keys(fields).length) throw new Error('A structured secret needs at least one field with a name and a value.');
      return { fields };
    },
  };
}

export async function secretsPage(projectId) {
  const { projects = [] } = await api.get('/v1/admin/projects');
  if (!projects.length) {
    screen('Secrets', h('p', { class: 'callout' }, 'Secrets live in projects. ', h('a', { href: '#/projects' }, 'Create a project first.')));
    return;
  }
  const project = projects.find((p) => p.id === projectId) || projects[0];
  const { secrets = [] } = await api.post('/v1/admin/secrets/query', { projectId: project.id });
  const picker = field('Project', { id: 'secrets-project', options: projects.map((p) => [p.id, p.name]) }, { tag: 'select' });
  picker.control.value = project.id;
  picker.control.addEventListener('change', () => { location.hash = `#/secrets/${encodeURIComponent(picker.control.value)}`; });

  let editor = valueEditor('standard');
  const editorSlot = h('div', null, editor.el);
  const typeSel = field('Type', { name: 'type', id: 'secret-type', options: [['standard', 'Standard (one value)'], ['structured', 'Structured (named fields)']] }, { tag: 'select' });
  typeSel.control.addEventListener('change', () => {
    editor = valueEditor(typeSel.control.value);
    editorSlot.replaceChildren(editor.el);
  });
  // No `pattern` here: nameProblem() says what a space would turn into, which a pattern cannot.
  const nameField = field('Name', { name: 'name', required: true, autocomplete: 'off', spellcheck: 'false', maxlength: 255, id: 'secret-name' },
    { hint: 'For example DATABASE_URL: letters, digits and _-./:@+, no spaces.' });
  const create = form('stack', [
    nameField,
    typeSel, editorSlot,
  ], 'Create secret', async (v, f) => {
    // The name is sent as typed, never trimmed or rewritten: what is refused is said here.
    const problem = nameProblem(v.name);
    if (problem) refuse(nameField, problem);
    const s = await api.post('/v1/admin/secrets', { projectId: project.id, name: v.name, ...editor.read() });
    f.reset();
    await secretsPage(project.id);
    announce(`Secret ${s.name} created (version ${s.version}).`);
  });
  // The checks above say what is wrong next to each field (with aria-invalid), in place of the
  // browser's passing bubble; `pattern` still lets the browser mark a bad field as it is typed.
  create.noValidate = true;

  // What this person's role lets them change (the server checks every request; this spares
  // them buttons it would refuse, issue 16 bug 6): writing secrets (developers up) and the
  // project's own settings, canaries and policies (admins up).
  const write = api.can('write_secrets');
  const manage = api.can('manage_projects');
  const policies = await policiesCard(project, () => secretsPage(project.id));
  // A canary's value is the server's: nobody writes or rotates it by hand, so it offers neither.
  const row = (s) => [
    s.name,
    h('span', null, badge(s.type), s.canary ? badge('canary', 'bad') : null,
      s.fieldNames ? h('span', { class: 'muted small' }, ' ', s.fieldNames.join(', ')) : null),
    String(s.version),
    when(s.updatedAt),
    idCell(s.id, `id of ${s.name}`),
    readOnlyPolicy(policySelect(s, policies.policies), manage),
    h('div', { class: 'actions' },
      s.canary || !write ? null : button(`Update ${s.name}`, () => updateDialog(s, project.id), 'small'),
      button(`Versions of ${s.name}`, () => versionsDialog(s, project.id, write), 'small'),
      s.canary || !write ? null : button(`Rotation of ${s.name}`, () => rotationDialog(s, project.id), 'small'),
      !write ? null : action(`Delete ${s.name}`, async () => {
        await api.post(`/v1/admin/secrets/${api.seg(s.id)}/delete`, {});
        await secretsPage(project.id);
        announce(`Secret ${s.name} deleted (moved to the trash).`);
      }, { cls: 'small danger', confirmAction: `Delete ${s.name}`, confirmText: `Delete the secret ${s.name}? Machines will no longer read it; it stays in the trash until purged.` })),
  ];
  const list = filteredTable({
    caption: 'Secrets',
    label: 'Search secrets',
    headers: ['Name', 'Type', 'Version', 'Updated', 'Id', 'Policy', 'Actions'],
    items: secrets,
    row,
    text: (s) => `${s.name} ${s.id} ${(s.fieldNames || []).join(' ')}`,
    filters: [{ label: 'Kind of secret', options: [['', 'All'], ['standard', 'Standard'], ['structured', 'Structured'], ['canary', 'Canary']],
      test: (s, v) => (v === 'canary' ? !!s.canary : s.type === v) }],
    empty: 'No secrets in this project yet.',
  });
  const canary = form('stack', [
    field('Canary name', { name: 'name', required: true, autocomplete: 'off', id: 'canary-name' },
      { hint: 'One a thief would want, such as AWS_ROOT_KEY. The server generates its value; nobody sees it.' }),
    field('Looks like', { name: 'charset', id: 'canary-charset', options: [['symbols', 'Letters, digits, punctuation'],
      ['alphanumeric', 'Letters and digits'], ['hex', 'Hex'], ['base64url', 'Base64url'], ['uuid', 'UUID'], ['numbers', 'Digits']] },
    { tag: 'select' }),
  ], 'Create canary', async (v, f) => {
    // Sent as typed: a name the server refuses is marked here with its reason, never rewritten.
    const s = await api.post(`/v1/admin/projects/${api.seg(project.id)}/canaries`, { name: v.name, charset: v.charset });
    f.reset();
    await secretsPage(project.id);
    announce(`Canary ${s.name} created. Grant it only to machines whose read of it means compromise.`);
  });
  const frozen = project.frozenAt ? h('div', { class: 'callout error', role: 'alert', id: 'frozen-banner' },
    h('p', null, h('strong', null, `${project.name} is frozen. `),
      'A canary secret in it was read at ', when(project.frozenAt),
      '. Every machine request into this project is refused (423) until an administrator unfreezes it.'),
    action('Unfreeze', async () => {
      await api.post(`/v1/admin/projects/${api.seg(project.id)}/unfreeze`, {});
      await secretsPage(project.id);
      announce(`${project.name} unfrozen: machines can read its secrets again.`);
    }, { cls: 'danger', confirmText: `Unfreeze ${project.name}? Make sure the machine that read the canary is dealt with first.`, confirmAction: `Unfreeze ${project.name}` }))
    : null;
  if (frozen && !manage) frozen.lastChild.remove();
  const role = (api.session.user && api.session.user.role) || '';
  screen('Secrets',
    h('div', { class: 'card' }, picker),
    frozen,
    card(`Secrets in ${project.name}`,
      h('p', { class: 'callout', id: 'no-reveal' }, h('strong', null, 'No value is ever shown here. '),
        'By design, people write values and only machines that prove their key read them back: there is no reveal button. ',
        'To check a value, read it from a machine granted the secret (', mono('signet get NAME'), ').'),
      write ? null : h('p', { class: 'muted small', id: 'secrets-read-only' },
        `Your role (${role}) reads names, versions and history here; writing secrets is for developers and above.`),
      list),
    write ? card('Create a secret', create) : null,
    write ? card('Import a .env file', importEnv(project, secrets)) : null,
    manage ? card('Create a canary', h('p', { class: 'muted small' },
      'A canary looks like any secret to machines. Reading it answers with its value and freezes this project at once, ',
      'with a critical audit record. Only an administrator with a second factor can unfreeze it.'), canary) : null,
    manage ? policies.section : readOnlyPolicies(policies.section));
}

/** A secret's policy picker, disabled for a role that may not bind policies (admins do). */
function readOnlyPolicy(sel, manage) {
  if (!manage) sel.control.disabled = true;
  return sel;
}

/**
 * The project's policies for a role that may read but not change them: the list alone, without
 * the create form or the edit and delete buttons (policies.js draws them for admins).
 */
function readOnlyPolicies(section) {
  for (const b of section.querySelectorAll('button')) b.closest('.actions')?.remove();
  for (const c of section.querySelectorAll('section.card')) if (c.querySelector('form')) c.remove();
  return section;
}

/**
 * The fields part of a structured secret's update. It starts from the current field names: each
 * is kept as it is (the default: its value stays on the server and is never sent here),
 * replaced, or removed, and new fields can be added. `summary()` says what will change, by name.
 */
function fieldUpdateEditor(currentNames, onChange) {
  const wrap = h('div', { class: 'stack-sm' });
  const current = currentNames.map((name) => {
    const n = ++seq;
    const what = field('Change', { class: 'faction', id: `faction-${n}`,
      options: [['keep', 'Keep current value'], ['replace', 'Replace value'], ['remove', 'Remove field']] }, { tag: 'select' });
    const value = field('Field value', { class: 'fvalue', autocomplete: 'off', spellcheck: 'false', id: `fvalue-${n}`,
      placeholder: 'Kept as it is' });
    const sync = () => {
      value.control.disabled = what.control.value === 'remove';
      value.control.placeholder = what.control.value === 'keep' ? 'Kept as it is' : '';
      onChange();
    };
    // Typing a value means replacing it; choosing "keep" again forgets what was typed.
    value.control.addEventListener('input', () => {
      if (what.control.value === 'keep' && value.control.value !== '') what.control.value = 'replace';
      sync();
    });
    what.control.addEventListener('change', () => {
      if (what.control.value !== 'replace') value.control.value = '';
      sync();
    });
    wrap.appendChild(h('fieldset', { class: 'fieldrow' }, h('legend', null, name), what, value));
    return { name, what: what.control, value: value.control };
  });
  const added = h('div', { class: 'stack-sm' });
  const addRow = () => {
    const n = ++seq;
    const row = h('fieldset', { class: 'fieldrow' },
      h('legend', null, 'New field'),
      field('Field name', { class: 'fname', autocomplete: 'off', pattern: FIELD_PATTERN, title: FIELD_TITLE, id: `fname-${n}` }),
      field('Field value', { class: 'fvalue', autocomplete: 'off', spellcheck: 'false', id: `fvalue-${n}` }),
      button('Remove field', () => { row.remove(); onChange(); }, 'small danger'));
    row.addEventListener('input', onChange);
    added.appendChild(row);
    onChange();
  };
  wrap.append(added, button('Add field', addRow, 'small'));

  /** The plan, by field name; throws on a name that cannot be used. */
  const plan = () => {
    const p = { keep: [], replace: [], remove: [], add: [], values: {} };
    for (const c of current) {
      if (c.what.value === 'keep') p.keep.push(c.name);
      else if (c.what.value === 'remove') p.remove.push(c.name);
      else { p.replace.push(c.name); p.values[c.name] = c.value.value; }
    }
    for (const row of added.children) {
      const name = row.querySelector('.fname').value;
      if (!name) continue;
      if (currentNames.includes(name) || p.add.includes(name)) throw new Error(`The field ${name} is there already.`);
      p.add.push(name);
      p.values[name] = row.querySelector('.fvalue').value;
    }
    return p;
  };
  /** The value field of the field `name` (current or added), to mark a server error at. */
  const valueWrap = (name) => {
    const c = current.find((x) => x.name === name);
    if (c) return c.value.closest('.field');
    for (const row of added.children) {
      if (row.querySelector('.fname').value === name) return row.querySelector('.fvalue').closest('.field');
    }
    return null;
  };
  return {
    el: wrap,
    plan,
    valueWrap,
    body: (baseVersion) => {
      const p = plan();
      return { baseVersion, keepFields: p.keep, removeFields: p.remove, fields: p.values };
    },
  };
}

/** What an update will do, by field name only. */
function changeSummary(p) {
  const line = (label, names) => (names.length ? h('li', null, `${label}: ${names.join(', ')}`) : null);
  const items = [line('Added', p.add), line('Replaced', p.replace), line('Removed', p.remove), line('Kept as they are', p.keep)]
    .filter(Boolean);
  if (!p.keep.length && !p.replace.length && !p.add.length) {
    items.push(h('li', { class: 'error-text' }, 'A structured secret needs at least one field.'));
  }
  return h('ul', null, items);
}

function updateDialog(s, projectId) {
  const structured = s.type === 'structured';
  const summary = h('div', { id: 'update-summary', class: 'callout', 'aria-live': 'polite' });
  const refresh = () => {
    try {
      summary.replaceChildren(h('p', null, 'What will change:'), changeSummary(editor.plan()));
    } catch (e) {
      summary.replaceChildren(h('p', { class: 'error-text' }, e.message));
    }
  };
  const editor = structured ? fieldUpdateEditor(s.fieldNames || [], () => refresh()) : valueEditor(s.type);
  const f = h('form', { class: 'stack' },
    h('p', { class: 'muted small' }, 'The new value becomes a new version; older versions stay for rollback.'),
    editor.el, structured ? summary : null);
  if (structured) refresh();
  const save = h('button', { type: 'button', class: 'primary' }, 'Save new version');
  const d = modal(`Update ${s.name}`, f, [button('Cancel', () => d.close()), save]);
  save.addEventListener('click', async () => {
    save.disabled = true;
    clearFieldErrors(f);
    try {
      // A structured update names the version it started from: if someone saved a newer one
      // meanwhile, the server refuses rather than undo their change.
      const body = structured ? editor.body(s.version) : editor.read();
      const r = await api.post(`/v1/admin/secrets/${api.seg(s.id)}/update`, body);
      d.close();
      await secretsPage(projectId);
      announce(`${s.name} is now at version ${r.version}.`);
    } catch (e) {
      // The server's refusal of one field's value is shown at that field, in its words.
      const named = e.code === 'empty_value' && structured && (/`([^`]+)`/.exec(e.message || '') || [])[1];
      const at = named && editor.valueWrap(named);
      if (e.status === 409) {
        fail(new Error(`${s.name} was changed by someone else meanwhile; nothing was saved. Close this and open Update again to start from the new version.`));
      } else if (at) {
        const { text } = explain(e);
        fieldError(at, text);
        at.control.focus();
      } else {
        fail(e);
      }
    } finally {
      save.disabled = false;
    }
  });
}

/**
 * What changed from `prev` to `v`, by field name only (values never reach a person): the
 * fields whose value changed are the server's record (`changedFields`, compared where the
 * values are); added and removed ones come from the two versions' field names. A version
 * written before the server kept that record says "new values".
 */
export function versionChange(prev, v) {
  if (v.valueVersion !== v.version) return `Rolled back to the value of version ${v.valueVersion}`;
  if (!prev) return v.type === 'structured' ? `Created with ${(v.fieldNames || []).join(', ')}` : 'Created';
  if (v.type !== 'structured' || prev.type !== 'structured') return prev.type === v.type ? 'New value' : `Now ${v.type}`;
  const before = new Set(prev.fieldNames || []);
  const after = new Set(v.fieldNames || []);
  const added = [...after].filter((n) => !before.has(n));
  const removed = [...before].filter((n) => !after.has(n));
  const changed = v.changedFields;
  const parts = [];
  if (changed && changed.length) parts.push(`changed ${changed.join(', ')}`);
  if (added.length) parts.push(`added ${added.join(', ')}`);
  if (removed.length) parts.push(`removed ${removed.join(', ')}`);
  if (!changed && !parts.length) parts.push('new values');
  if (changed && !parts.length) parts.push('same values written again');
  const s = parts.join('; ');
  return s[0].toUpperCase() + s.slice(1);
}

async function versionsDialog(s, projectId, write = true) {
  let versions;
  try {
    versions = (await api.get(`/v1/admin/secrets/${api.seg(s.id)}/versions`)).versions || [];
  } catch (e) {
    fail(e);
    return;
  }
  const rows = versions.map((v, i) => [String(v.version), versionChange(versions[i - 1], v),
    // A person, never the per-session key id their browser signed with; one the server can no
    // longer name (a removed account, an archived sign-in) says so, its id in the tooltip.
    v.createdByName ? h('span', { title: v.createdBy }, v.createdByName)
      : h('span', { class: 'muted', title: v.createdBy || '' }, 'unknown (removed or archived)'), when(v.createdAt),
    v.version === s.version ? badge('current', 'ok') : !write ? '' : action(`Roll back to version ${v.version}`, async () => {
      const r = await api.post(`/v1/admin/secrets/${api.seg(s.id)}/rollback`, { version: v.version });
      d.close();
      await secretsPage(projectId);
      announce(`${s.name} rolled back: version ${r.version} has the value of version ${v.version}.`);
    }, { cls: 'small' })]).reverse();
  const d = modal(`Versions of ${s.name}`, h('div', null,
    h('p', { class: 'muted small' }, 'Newest first. Changes are named by field; values are never shown.'),
    table('Versions', ['Version', 'Change', 'By', 'Created', ''], rows)), [button('Close', () => d.close())], { cls: 'wide' });
}

/**
 * Parses a .env file: `KEY=value` lines, `export ` allowed, `#` comments, values bare, in
 * single quotes (literal) or double quotes (with \n, \t, \" and \\ escapes, may span lines).
 * Returns `{ entries: [{ name, value, line }], problems: [{ line, text }] }`.
 */
export function parseDotenv(text) {
  const entries = [];
  const problems = [];
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = lines[i];
    const t = raw.trim();
    if (!t || t.startsWith('#')) continue;
    const m = t.match(/^(?:export\s+)?([^=\s]+)\s*=\s?(.*)$/);
    if (!m) { problems.push({ line: lineNo, text: 'not NAME=value' }); continue; }
    const name = m[1];
    let rest = m[2];
    let value;
    if (rest.startsWith('"')) {
      // Read to the closing quote, over line ends if need be, undoing escapes on the way.
      let body = rest.slice(1);
      let out = '';
      let closed = false;
      for (;;) {
        let j = 0;
        for (; j < body.length; j++) {
          const c = body[j];
          if (c === '\\' && j + 1 < body.length) {
            const n = body[++j];
            out += { n: '\n', t: '\t', r: '\r' }[n] ?? n;
          } else if (c === '"') {
            closed = true;
            break;
          } else {
            out += c;
          }
        }
        if (closed || i + 1 >= lines.length) break;
        out += '\n';
        body = lines[++i];
      }
      if (!closed) {
        // Only this line is refused: the lines after it are read as lines of their own again,
        // not silently swallowed as the rest of an unterminated value.
        problems.push({ line: lineNo, text: 'a double quote is never closed' });
        i = lineNo - 1;
        continue;
      }
      value = out;
    } else if (rest.startsWith("'")) {
      const close = rest.indexOf("'", 1);
      if (close < 0) { problems.push({ line: lineNo, text: 'a single quote is never closed' }); continue; }
      value = rest.slice(1, close);
    } else {
      value = rest.replace(/\s+#.*$/, '').trim();
    }
    entries.push({ name, value, line: lineNo });
  }
  return { entries, problems };
}

/** Bulk import: a .env file read in the browser, its names previewed, each created as a secret. */
function importEnv(project, existing) {
  const taken = new Set(existing.map((s) => s.name));
  const file = field('.env file', { type: 'file', accept: '.env,text/plain', id: 'env-file' },
    { hint: 'Read here in the browser; the values go to the server and are never shown back.' });
  const preview = h('div', { id: 'env-preview', 'aria-live': 'polite' });
  let plan = [];
  file.control.addEventListener('change', async () => {
    fieldError(file, '');
    plan = [];
    const f = file.control.files && file.control.files[0];
    if (!f) { preview.replaceChildren(); return; }
    if (f.size > 1024 * 1024) { fieldError(file, 'This file is over 1 MiB; a .env file is much smaller.'); preview.replaceChildren(); return; }
    const { entries, problems } = parseDotenv(await f.text());
    // A name given twice takes its last value, as `source .env`, Docker Compose and the dotenv
    // libraries do: a file that overrides a line further down means the override.
    const last = new Map(entries.map((e, i) => [e.name, i]));
    const bytes = new TextEncoder();
    const rows = entries.map((e, i) => {
      let state = 'new';
      if (nameProblem(e.name)) state = nameProblem(e.name);
      else if (taken.has(e.name)) state = 'exists already: skipped';
      else if (last.get(e.name) !== i) state = `repeated on line ${entries[last.get(e.name)].line}: the last one counts`;
      else if (e.value === '') state = 'empty value: skipped';
      else if (bytes.encode(e.value).length > MAX_VALUE_BYTES) state = 'value over the server\u2019s limit (1 MiB): skipped';
      if (state === 'new') plan.push(e);
      return [e.name, String(e.line), state === 'new' ? badge('will be created', 'ok') : h('span', { class: 'small' }, state)];
    });
    const go = action(`Import ${plan.length} secret${plan.length === 1 ? '' : 's'} into ${project.name}`, async () => {
      const done = [];
      const failed = [];
      for (const e of plan) {
        try {
          await api.post('/v1/admin/secrets', { projectId: project.id, name: e.name, value: e.value });
          done.push(e.name);
        } catch (err) {
          failed.push(`${e.name} (${err.message})`);
        }
      }
      // Forget the values the moment they are sent.
      plan = [];
      file.control.value = '';
      await secretsPage(project.id);
      announce(failed.length ? `Imported ${done.length}; not imported: ${failed.join(', ')}.` : `Imported ${done.length} secrets into ${project.name}.`,
        failed.length ? 'error' : 'info');
    }, { cls: 'primary' });
    go.disabled = plan.length === 0;
    preview.replaceChildren(
      table('Names found in the file', ['Name', 'Line', 'What happens'], rows, 'No NAME=value lines in this file.'),
      problems.length ? h('p', { class: 'error-text' }, `Lines not read: ${problems.map((p) => `${p.line} (${p.text})`).join(', ')}.`) : null,
      h('div', { class: 'actions top-gap' }, go));
  });
  return h('div', { class: 'stack' }, file, preview);
}

const CHARSETS = ['symbols', 'alphanumeric', 'numbers', 'hex', 'base64url', 'uuid'];
const INTERVALS = [['', 'No schedule (rotate by hand)'], ['300', 'Every 5 minutes'], ['3600', 'Every hour'],
  ['86400', 'Every day'], ['604800', 'Every 7 days'], ['2592000', 'Every 30 days']];

/** How a secret rotates: its settings, pause and resume, and "Rotate now". Never shows a value. */
async function rotationDialog(s, projectId) {
  const path = `/v1/admin/secrets/${api.seg(s.id)}/rotation`;
  let current;
  try {
    current = (await api.get(path)).rotation;
  } catch (e) {
    fail(e);
    return;
  }
  // A managed password: its rotations wait for its agent, whose health is shown here.
  let managed = null;
  if (s.type === 'structured') {
    try {
      managed = (await api.get(`/v1/admin/secrets/${api.seg(s.id)}/managed`)).managed;
    } catch (e) {
      fail(e);
      return;
    }
  }
  const managedStatus = managed ? h('div', { id: 'managed-status', class: 'callout' },
    h('p', null, `Managed password of the database role ${managed.username}: a rotation stays pending until its agent has set it and logged in with it.`),
    h('ul', null,
      h('li', null, 'Agent: ', managed.agentMachineId ? idCell(managed.agentMachineId, 'agent machine id') : 'none yet'),
      h('li', null, `Health: ${managed.heartbeatStatus || 'never heard from'}${managed.heartbeatError ? ` (${managed.heartbeatError})` : ''}; last seen `,
        when(managed.lastSeenAt)),
      h('li', null, 'Pending: ', managed.pendingRotationId ? idCell(managed.pendingRotationId, 'pending rotation id') : 'none'),
      h('li', null, `Last rotation: ${managed.lastRotationId ? `${managed.lastRotationId} ${managed.lastOutcome}` : 'none'}${managed.lastError ? ` (${managed.lastError})` : ''}`)))
    : null;
  const status = h('div', { id: 'rotation-status', class: 'callout', 'aria-live': 'polite' });
  const show = (r) => {
    current = r;
    if (!r) {
      status.replaceChildren(h('p', null, 'No rotation settings: "Rotate now" makes 32 symbols in every field.'));
      return;
    }
    const schedule = r.intervalSeconds ? `every ${r.intervalSeconds} s${r.paused ? ' (paused)' : ''}` : 'none (by hand only)';
    status.replaceChildren(h('ul', null,
      h('li', null, `Generator: ${r.length} × ${r.charset}`),
      h('li', null, `Fields: ${r.fields ? r.fields.join(', ') : 'all'}`),
      h('li', null, `Schedule: ${schedule}`),
      h('li', null, 'Next: ', when(r.nextDueAt)),
      h('li', null, 'Last rotated: ', when(r.lastRotatedAt))));
  };
  show(current);
  const charset = field('Charset', { id: 'rotation-charset', options: CHARSETS.map((c) => [c, c]) }, { tag: 'select' });
  const length = field('Length', { id: 'rotation-length', type: 'number', min: '1', max: '1024', value: '32' },
    { hint: '1-1024 characters (a uuid is always 36).' });
  const every = field('Schedule', { id: 'rotation-interval', options: INTERVALS }, { tag: 'select' });
  const fields = s.type === 'structured'
    ? field('Fields that rotate', { id: 'rotation-fields', autocomplete: 'off', value: (s.fieldNames || []).join(',') },
      { hint: 'Comma-separated; the other fields keep their values.' })
    : null;
  if (current) {
    charset.control.value = current.charset;
    length.control.value = String(current.length);
    every.control.value = current.intervalSeconds ? String(current.intervalSeconds) : '';
    if (fields && current.fields) fields.control.value = current.fields.join(',');
  }
  const save = action('Save settings', async () => {
    const body = { charset: charset.control.value };
    if (charset.control.value !== 'uuid') body.length = Number(length.control.value);
    if (every.control.value) body.intervalSeconds = Number(every.control.value);
    if (fields) {
      const names = fields.control.value.split(',').map((x) => x.trim()).filter(Boolean);
      if (names.length && names.length < (s.fieldNames || []).length) body.fields = names;
    }
    show(await api.post(path, body));
    announce(`Rotation settings of ${s.name} saved.`);
  }, { cls: 'primary' });
  const pause = action('Pause', async () => {
    show(await api.post(`${path}/pause`, {}));
    announce(`Rotation of ${s.name} paused.`);
  }, { cls: 'small' });
  const resume = action('Resume', async () => {
    show(await api.post(`${path}/resume`, {}));
    announce(`Rotation of ${s.name} resumed.`);
  }, { cls: 'small' });
  const clearIt = action('Clear settings', async () => {
    await api.post(`${path}/clear`, {});
    show(null);
    announce(`Rotation settings of ${s.name} cleared.`);
  }, { cls: 'small danger' });
  const now = action('Rotate now', async () => {
    const r = await api.post(`/v1/admin/secrets/${api.seg(s.id)}/rotate`, {});
    d.close();
    await secretsPage(projectId);
    announce(managed
      ? `${s.name}: a new password is pending until its agent confirms it.`
      : `${s.name} rotated: version ${r.version} has a new generated value.`);
  }, { cls: 'primary', confirmText: `Rotate ${s.name} now? Machines get the new value at their next read.`, confirmAction: `Rotate ${s.name} now` });
  const f = h('form', { class: 'stack' }, managedStatus, status, charset, length, every, fields,
    h('div', { class: 'actions' }, save, pause, resume, clearIt));
  const d = modal(`Rotation of ${s.name}`, f, [button('Close', () => d.close()), now]);
}
