// Secrets of a project. Values go in and are never shown back: the admin API does not return them.

import * as api from './api.js';
import { h, screen, card, table, when, mono, field, form, announce, badge, action, button, modal, fail } from './page.js';
import { policiesCard, policySelect } from './policies.js';

let seq = 0;

/** The value part of a secret form: one value, or named fields for a structured secret. */
function valueEditor(type, fieldNames = []) {
  const wrap = h('div', { class: 'stack-sm' });
  if (type === 'standard') {
    const v = field('Value', { name: 'value', autocomplete: 'off', spellcheck: 'false', id: `secret-value-${++seq}` },
      { tag: 'textarea', hint: 'Stored encrypted. It will not be shown again.' });
    wrap.appendChild(v);
    return { el: wrap, read: () => ({ value: v.control.value }) };
  }
  const rows = h('div', { class: 'stack-sm' });
  const addRow = (name = '') => {
    const n = ++seq;
    const row = h('fieldset', { class: 'fieldrow' },
      h('legend', null, `Field ${rows.children.length + 1}`),
      field('Field name', { class: 'fname', value: name, autocomplete: 'off', pattern: '[A-Za-z0-9_.-]+', id: `fname-${n}` }),
      field('Field value', { class: 'fvalue', autocomplete: 'off', spellcheck: 'false', id: `fvalue-${n}` }),
      button('Remove field', () => row.remove(), 'small danger'));
    rows.appendChild(row);
  };
  (fieldNames.length ? fieldNames : ['']).forEach(addRow);
  wrap.append(rows, button('Add field', () => addRow(), 'small'));
  return {
    el: wrap,
    read: () => {
      const fields = {};
      for (const row of rows.children) {
        const name = row.querySelector('.fname').value.trim();
        if (name) fields[name] = row.querySelector('.fvalue').value;
      }
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
  const create = form('stack', [
    field('Name', { name: 'name', required: true, autocomplete: 'off', id: 'secret-name' }, { hint: 'For example DATABASE_URL.' }),
    typeSel, editorSlot,
  ], 'Create secret', async (v, f) => {
    const s = await api.post('/v1/admin/secrets', { projectId: project.id, name: v.name.trim(), ...editor.read() });
    f.reset();
    await secretsPage(project.id);
    announce(`Secret ${s.name} created (version ${s.version}).`);
  });

  const policies = await policiesCard(project, () => secretsPage(project.id));
  // A canary's value is the server's: nobody writes or rotates it by hand, so it offers neither.
  const rows = secrets.map((s) => [
    s.name,
    h('span', null, badge(s.type), s.canary ? badge('canary', 'bad') : null,
      s.fieldNames ? h('span', { class: 'muted small' }, ' ', s.fieldNames.join(', ')) : null),
    String(s.version),
    when(s.updatedAt),
    mono(s.id),
    policySelect(s, policies.policies),
    h('div', { class: 'actions' },
      s.canary ? null : button('Update', () => updateDialog(s, project.id), 'small'),
      button('Versions', () => versionsDialog(s, project.id), 'small'),
      s.canary ? null : button('Rotation', () => rotationDialog(s, project.id), 'small'),
      action('Delete', async () => {
        await api.post(`/v1/admin/secrets/${api.seg(s.id)}/delete`, {});
        await secretsPage(project.id);
        announce(`Secret ${s.name} deleted (moved to the trash).`);
      }, { cls: 'small danger', confirmText: `Delete the secret ${s.name}? Machines will no longer read it; it stays in the trash until purged.` })),
  ]);
  const canary = form('stack', [
    field('Canary name', { name: 'name', required: true, autocomplete: 'off', id: 'canary-name' },
      { hint: 'One a thief would want, such as AWS_ROOT_KEY. The server generates its value; nobody sees it.' }),
    field('Looks like', { name: 'charset', id: 'canary-charset', options: [['symbols', 'Letters, digits, punctuation'],
      ['alphanumeric', 'Letters and digits'], ['hex', 'Hex'], ['base64url', 'Base64url'], ['uuid', 'UUID'], ['numbers', 'Digits']] },
    { tag: 'select' }),
  ], 'Create canary', async (v, f) => {
    const s = await api.post(`/v1/admin/projects/${api.seg(project.id)}/canaries`, { name: v.name.trim(), charset: v.charset });
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
    }, { cls: 'danger', confirmText: `Unfreeze ${project.name}? Make sure the machine that read the canary is dealt with first.` }))
    : null;
  screen('Secrets',
    h('div', { class: 'card' }, picker),
    frozen,
    card(`Secrets in ${project.name}`, table('Secrets', ['Name', 'Type', 'Version', 'Updated', 'Id', 'Policy', 'Actions'], rows,
      'No secrets in this project yet.')),
    card('Create a secret', create),
    card('Create a canary', h('p', { class: 'muted small' },
      'A canary looks like any secret to machines. Reading it answers with its value and freezes this project at once, ',
      'with a critical audit record. Only an administrator with a second factor can unfreeze it.'), canary),
    policies.section);
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
      field('Field name', { class: 'fname', autocomplete: 'off', pattern: '[A-Za-z0-9_.-]+', id: `fname-${n}` }),
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
      const name = row.querySelector('.fname').value.trim();
      if (!name) continue;
      if (currentNames.includes(name) || p.add.includes(name)) throw new Error(`The field ${name} is there already.`);
      p.add.push(name);
      p.values[name] = row.querySelector('.fvalue').value;
    }
    return p;
  };
  return {
    el: wrap,
    plan,
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
    try {
      // A structured update names the version it started from: if someone saved a newer one
      // meanwhile, the server refuses rather than undo their change.
      const body = structured ? editor.body(s.version) : editor.read();
      const r = await api.post(`/v1/admin/secrets/${api.seg(s.id)}/update`, body);
      d.close();
      await secretsPage(projectId);
      announce(`${s.name} is now at version ${r.version}.`);
    } catch (e) {
      if (e.status === 409) {
        fail(new Error(`${s.name} was changed by someone else meanwhile; nothing was saved. Close this and open Update again to start from the new version.`));
      } else {
        fail(e);
      }
    } finally {
      save.disabled = false;
    }
  });
}

async function versionsDialog(s, projectId) {
  let versions;
  try {
    versions = (await api.get(`/v1/admin/secrets/${api.seg(s.id)}/versions`)).versions || [];
  } catch (e) {
    fail(e);
    return;
  }
  const d = modal(`Versions of ${s.name}`, table('Versions', ['Version', 'Type', 'By', 'Created', ''],
    versions.map((v) => [String(v.version), v.type, mono(v.createdBy), when(v.createdAt),
      v.version === s.version ? badge('current', 'ok') : action('Roll back', async () => {
        const r = await api.post(`/v1/admin/secrets/${api.seg(s.id)}/rollback`, { version: v.version });
        d.close();
        await secretsPage(projectId);
        announce(`${s.name} rolled back: version ${r.version} has the value of version ${v.version}.`);
      }, { cls: 'small' })])), [button('Close', () => d.close())]);
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
      h('li', null, 'Agent: ', managed.agentMachineId ? mono(managed.agentMachineId) : 'none yet'),
      h('li', null, `Health: ${managed.heartbeatStatus || 'never heard from'}${managed.heartbeatError ? ` (${managed.heartbeatError})` : ''}; last seen `,
        when(managed.lastSeenAt)),
      h('li', null, 'Pending: ', managed.pendingRotationId ? mono(managed.pendingRotationId) : 'none'),
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
  }, { cls: 'primary', confirmText: `Rotate ${s.name} now? Machines get the new value at their next read.` });
  const f = h('form', { class: 'stack' }, managedStatus, status, charset, length, every, fields,
    h('div', { class: 'actions' }, save, pause, resume, clearIt));
  const d = modal(`Rotation of ${s.name}`, f, [button('Close', () => d.close()), now]);
}
