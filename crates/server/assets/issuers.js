// Workload identity: the OIDC issuers (GitHub Actions, GitLab CI, Kubernetes, any OpenID
// provider) whose platform tokens may enroll machines, each issuer's rules (claims that must
// hold, the projects and secrets a matching workload gets, its lifetime), and the
// `signet enroll` command a workload runs. A platform token never passes through this page.

import * as api from './api.js';
import {
  h, screen, card, table, when, mono, badge, action, field, form, announce, idCell, copyButton,
  filteredTable, fieldError, button, modal,
} from './page.js';

const GITHUB = 'https://token.actions.githubusercontent.com';

/** Platforms the add form knows, with the `iss` their tokens carry when it is fixed. */
const PLATFORMS = [
  ['github', 'GitHub Actions', GITHUB],
  ['gitlab', 'GitLab CI (gitlab.com)', 'https://gitlab.com'],
  ['kubernetes', 'Kubernetes service accounts', ''],
  ['other', 'Another OpenID issuer', ''],
];

/** Whether the session may change issuers (the server's rule: `manage_tokens`). */
const manager = () => api.can('manage_tokens');

/** A command with its copy button; `what` names it for a screen reader. */
function command(text, what) {
  const code = h('code', { class: 'command' }, text);
  return h('div', { class: 'copyrow' }, code, copyButton(text, what, code));
}

/** The commands a workload runs to enroll against `issuer`, most specific first. */
export function enrollCommands(vaultId, issuer) {
  const base = `signet enroll --server ${location.origin} --vault ${vaultId || 'VAULT_ID'}`;
  const out = [];
  if (issuer.issuer === GITHUB) {
    out.push(['In a GitHub Actions job (with permissions: id-token: write)', `${base} --github-actions --audience ${issuer.audience}`, 'GitHub Actions command']);
  } else {
    out.push([`In a Kubernetes pod (a projected token with audience ${issuer.audience})`, `${base} --kubernetes`, 'Kubernetes command']);
  }
  out.push(['With any token from this issuer, in a file or on standard input (-)', `${base} --oidc-token token.jwt`, 'OIDC token command']);
  return out;
}

/** A URL that may wrap after a `/` and nowhere else, with its copy button. */
function urlCell(text) {
  const code = h('code', { class: 'breakable' }, String(text).split(/(?<=\/)/).flatMap((x, i) => (i ? [h('wbr'), x] : [x])));
  return h('span', { class: 'id-cell' }, code, copyButton(text, 'issuer URL', code));
}

/** Words of a refusal that point at a form field, first match wins. */
function pick(e, pairs) {
  const m = String((e && e.message) || '').toLowerCase();
  for (const [word, name] of pairs) if (m.includes(word)) return [name];
  return [];
}

function addIssuerForm() {
  const platform = field('Platform', { name: 'platform', id: 'issuer-platform', options: PLATFORMS.map(([v, t]) => [v, t]) }, { tag: 'select' });
  const url = field('Issuer URL', { name: 'issuer', id: 'issuer-url', type: 'url', required: true, autocomplete: 'off', spellcheck: 'false', value: GITHUB },
    { hint: 'Exactly the iss claim of its tokens (https://).' });
  platform.control.addEventListener('change', () => {
    const known = PLATFORMS.map(([, , u]) => u);
    const row = PLATFORMS.find(([v]) => v === platform.control.value);
    // Only replace what the form itself filled in, never what the person typed.
    if (!url.control.value || known.includes(url.control.value)) url.control.value = row[2];
  });
  return form('stack', [
    platform,
    field('Name', { name: 'name', id: 'issuer-name', required: true, maxlength: 64, autocomplete: 'off' }),
    url,
    field('Audience', { name: 'audience', id: 'issuer-audience', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'signet' },
      { hint: 'The aud its tokens must carry: what the workload asks its platform for.' }),
    field('Pinned key set (JWKS, optional)', { name: 'jwks', id: 'issuer-jwks', rows: 3, spellcheck: 'false', class: 'mono' },
      { tag: 'textarea', hint: 'Empty: the keys are fetched from the issuer\u2019s discovery document. Only public keys.' }),
    h('div', { class: 'fieldrow' },
      field('Algorithms (optional)', { name: 'algorithms', id: 'issuer-algorithms', autocomplete: 'off', placeholder: 'RS256 ES256 EdDSA' }),
      field('Clock leeway (seconds)', { name: 'leeway', id: 'issuer-leeway', type: 'number', min: 0, max: 300, placeholder: '60' })),
  ], 'Trust issuer', async (v, f) => {
    const body = { name: v.name.trim(), issuer: v.issuer.trim(), audience: v.audience.trim() };
    if (v.jwks.trim()) {
      try {
        body.jwks = JSON.parse(v.jwks);
      } catch {
        const wrap = f.elements.namedItem('jwks').closest('.field');
        fieldError(wrap, 'This is not JSON: paste the key set ({"keys": [...]}) as the issuer publishes it.');
        wrap.control.focus();
        return;
      }
    }
    const algs = v.algorithms.split(/[\s,]+/).filter(Boolean);
    if (algs.length) body.algorithms = algs;
    if (v.leeway !== '') body.leewaySeconds = Number(v.leeway);
    const made = await api.post('/v1/admin/issuers', body);
    f.reset();
    announce(`Issuer ${made.name} trusted. Add a rule to say which workloads it enrolls.`);
    location.hash = `#/issuers/${encodeURIComponent(made.id)}`;
  }, {
    fieldsFor: (e) => pick(e, [['issuer', 'issuer'], ['iss', 'issuer'], ['audience', 'audience'], ['jwks', 'jwks'], ['key', 'jwks'],
      ['algorithm', 'algorithms'], ['leeway', 'leeway'], ['name', 'name']]),
  });
}

export async function issuersPage(id) {
  if (id) return issuerPage(id);
  const { issuers = [] } = await api.get('/v1/admin/issuers');
  screen('Workload identity',
    h('p', { class: 'muted' },
      'CI jobs and pods enroll with the token their platform gives them, no bootstrap token to hand out: a trusted issuer\u2019s signed token, whose claims match a rule, makes a short-lived machine with that rule\u2019s projects and secrets.'),
    card('Trusted issuers', filteredTable({
      caption: 'Trusted issuers',
      label: 'Search issuers',
      headers: ['Name', 'Issuer', 'Audience', 'Keys', 'Rules', 'Id'],
      items: issuers,
      text: (i) => `${i.name} ${i.issuer} ${i.audience} ${i.id} ${i.rules.map((r) => r.name).join(' ')}`,
      row: (i) => [
        h('a', { href: `#/issuers/${encodeURIComponent(i.id)}` }, i.name),
        urlCell(i.issuer), mono(i.audience), badge(i.pinned ? 'pinned' : 'discovered'),
        String(i.rules.length), idCell(i.id, `id of ${i.name}`),
      ],
      empty: 'No issuer is trusted yet: only tokens and approvals enroll machines.',
    })),
    manager() ? card('Trust an issuer', addIssuerForm()) : null);
  return undefined;
}

/** Checkboxes of projects (and, under each, its secrets) for a rule. */
function scopeFields(secretLists) {
  const projects = h('fieldset', { class: 'field', id: 'rule-projects' }, h('legend', null, 'Projects a matching workload joins'),
    secretLists.map(([p]) => field(p.name, { type: 'checkbox', name: `project:${p.id}`, id: `rule-p-${p.id}` })));
  projects.control = projects.querySelector('input');
  const withSecrets = secretLists.filter(([, list]) => list.length);
  const secrets = withSecrets.length ? h('fieldset', { id: 'rule-secrets' }, h('legend', null, 'Secrets it may read'),
    h('p', { class: 'muted small' }, 'A ticked secret also joins its project.'),
    withSecrets.map(([p, list]) => list.map((s) => field(`${s.name} (${p.name})`, { type: 'checkbox', name: `secret:${s.id}`, id: `rule-s-${s.id}` })))) : null;
  return { projects, secrets };
}

function addRuleForm(issuer, secretLists, reload) {
  const secretProject = new Map();
  for (const [p, list] of secretLists) for (const s of list) secretProject.set(s.id, p.id);
  const { projects, secrets } = scopeFields(secretLists);
  const claims = field('Claims that must hold', { name: 'claims', id: 'rule-claims', rows: 3, required: true, spellcheck: 'false', class: 'mono',
    placeholder: issuer.issuer === GITHUB ? 'repository=acme/api\nref=refs/heads/main' : 'sub=system:serviceaccount:prod:api' },
  { tag: 'textarea', hint: 'One per line, name=value; each claim must equal its value exactly.' });
  return form('stack', [
    field('Name', { name: 'name', id: 'rule-name', required: true, maxlength: 64, autocomplete: 'off' }),
    claims, projects, secrets,
    field('Machine lifetime (minutes)', { name: 'minutes', id: 'rule-minutes', type: 'number', min: 1, max: 527040, value: '60' }),
  ], 'Add rule', async (v, f) => {
    const pairs = {};
    for (const line of v.claims.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf('=');
      if (at < 1) {
        fieldError(claims, `\u201c${line}\u201d is not name=value.`);
        claims.control.focus();
        return;
      }
      pairs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    const secretIds = Object.keys(v).filter((k) => k.startsWith('secret:') && v[k]).map((k) => k.slice(7));
    const projectIds = new Set(Object.keys(v).filter((k) => k.startsWith('project:') && v[k]).map((k) => k.slice(8)));
    for (const s of secretIds) projectIds.add(secretProject.get(s));
    if (!projectIds.size) {
      fieldError(projects, 'Tick at least one project.');
      projects.control.focus();
      return;
    }
    await api.post(`/v1/admin/issuers/${api.seg(issuer.id)}/rules`, {
      name: v.name.trim(), claims: pairs, projectIds: [...projectIds], secretIds, machineTtlSeconds: Math.round(Number(v.minutes) * 60),
    });
    await reload();
    announce(`Rule ${v.name.trim()} added to ${issuer.name}.`);
  }, {
    fieldsFor: (e) => pick(e, [['claim', 'claims'], ['condition', 'claims'], ['ttl', 'minutes'], ['lifetime', 'minutes'],
      ['name', 'name']]),
  });
}

/**
 * Edits an issuer in a dialog: only what changed is sent (`POST …/update` keeps every field
 * absent). Its URL is its identity, so it is shown, not editable; a pinned key set can be
 * replaced, a discovered one stays discovered.
 */
function editIssuer(issuer, reload) {
  const fields = [
    h('dl', { class: 'props' }, h('dt', null, 'Issuer'), h('dd', null, urlCell(issuer.issuer))),
    field('Name', { name: 'name', id: 'issuer-edit-name', required: true, maxlength: 64, autocomplete: 'off', value: issuer.name }),
    field('Audience', { name: 'audience', id: 'issuer-edit-audience', required: true, autocomplete: 'off', spellcheck: 'false', value: issuer.audience },
      { hint: 'The aud its tokens must carry.' }),
    issuer.pinned ? field('Replace the pinned key set (JWKS, optional)', { name: 'jwks', id: 'issuer-edit-jwks', rows: 3, spellcheck: 'false', class: 'mono' },
      { tag: 'textarea', hint: 'Empty: the pinned keys stay. Only public keys.' }) : null,
    h('div', { class: 'fieldrow' },
      field('Algorithms', { name: 'algorithms', id: 'issuer-edit-algorithms', required: true, autocomplete: 'off', value: issuer.algorithms.join(' ') }),
      field('Clock leeway (seconds)', { name: 'leeway', id: 'issuer-edit-leeway', type: 'number', required: true, min: 0, max: 300, value: String(issuer.leewaySeconds) })),
  ];
  const f = form('stack', fields, 'Save issuer', async (v, el) => {
    const body = {};
    if (v.name.trim() !== issuer.name) body.name = v.name.trim();
    if (v.audience.trim() !== issuer.audience) body.audience = v.audience.trim();
    const algs = v.algorithms.split(/[\s,]+/).filter(Boolean);
    if (algs.join(' ') !== issuer.algorithms.join(' ')) body.algorithms = algs;
    if (Number(v.leeway) !== issuer.leewaySeconds) body.leewaySeconds = Number(v.leeway);
    if (issuer.pinned && v.jwks.trim()) {
      try {
        body.jwks = JSON.parse(v.jwks);
      } catch {
        const wrap = el.elements.namedItem('jwks').closest('.field');
        fieldError(wrap, 'This is not JSON: paste the key set ({"keys": [...]}) as the issuer publishes it.');
        wrap.control.focus();
        return;
      }
    }
    if (!Object.keys(body).length) { d.close(); announce('Nothing changed.'); return; }
    const saved = await api.post(`/v1/admin/issuers/${api.seg(issuer.id)}/update`, body);
    d.close();
    await reload();
    announce(`Issuer ${saved.name || issuer.name} saved.`);
  }, {
    fieldsFor: (e) => pick(e, [['audience', 'audience'], ['jwks', 'jwks'], ['key', 'jwks'], ['algorithm', 'algorithms'], ['leeway', 'leeway'],
      ['name', 'name']]),
  });
  const d = modal(`Edit ${issuer.name}`, f, [button('Cancel', () => d.close())], { cls: 'wide' });
  f.elements.namedItem('name').focus();
}

async function issuerPage(id) {
  const [issuer, { projects = [] }, vault] = await Promise.all([
    api.get(`/v1/admin/issuers/${api.seg(id)}`),
    api.get('/v1/admin/projects'),
    api.get('/v1/admin/vault').catch(() => null),
  ]);
  const secretLists = await Promise.all(projects.map((p) =>
    api.post('/v1/admin/secrets/query', { projectId: p.id }).then((r) => [p, r.secrets || []], () => [p, []])));
  const projectName = new Map(projects.map((p) => [p.id, p.name]));
  const secretName = new Map(secretLists.flatMap(([, list]) => list.map((s) => [s.id, s.name])));
  const reload = () => issuerPage(id);
  const may = manager();
  const ruleRow = (r) => [
    String(r.position),
    r.name,
    h('ul', { class: 'plain' }, Object.entries(r.claims).map(([k, val]) => h('li', null, mono(`${k}=${val}`)))),
    r.projectIds.map((p) => projectName.get(p) || p).join(', '),
    r.secretIds.length ? r.secretIds.map((s) => secretName.get(s) || s).join(', ') : 'none',
    r.machineTtlSeconds % 3600 === 0 ? `${r.machineTtlSeconds / 3600} h` : `${Math.round(r.machineTtlSeconds / 60)} min`,
    may ? action(`Remove rule ${r.name}`, async () => {
      await api.post(`/v1/admin/issuers/${api.seg(issuer.id)}/rules/${api.seg(r.id)}/delete`, {});
      await reload();
    }, { cls: 'small danger', confirmAction: `Remove rule ${r.name}`, done: `Rule ${r.name} removed.`,
      confirmText: `Remove the rule ${r.name}? Workloads matching only it can no longer enroll; machines it enrolled keep their lifetimes.` }) : '',
  ];
  const remove = may ? action(`Delete issuer ${issuer.name}`, async () => {
    await api.post(`/v1/admin/issuers/${api.seg(issuer.id)}/delete`, {});
    location.hash = '#/issuers';
    announce(`Issuer ${issuer.name} deleted.`);
  }, {
    cls: 'danger', typeName: issuer.name, confirmAction: `Delete issuer ${issuer.name}`,
    confirmText: `Stop trusting ${issuer.issuer}? Its rules go with it; machines it enrolled keep their lifetimes.`,
  }) : null;
  screen(issuer.name,
    h('p', null, h('a', { href: '#/issuers' }, '\u2190 All issuers')),
    card('Details', h('dl', { class: 'props' },
      h('dt', null, 'Issuer'), h('dd', null, urlCell(issuer.issuer)),
      h('dt', null, 'Audience'), h('dd', null, mono(issuer.audience)),
      h('dt', null, 'Keys'), h('dd', null, issuer.pinned ? 'pinned (the key set given when it was added)' : 'fetched from its discovery document'),
      h('dt', null, 'Algorithms'), h('dd', null, issuer.algorithms.join(', ')),
      h('dt', null, 'Clock leeway'), h('dd', null, `${issuer.leewaySeconds} s`),
      h('dt', null, 'Id'), h('dd', null, idCell(issuer.id, 'issuer id')),
      h('dt', null, 'Trusted since'), h('dd', null, when(issuer.createdAt))),
    may ? h('div', { class: 'actions top-gap' },
      h('button', { type: 'button', id: 'issuer-edit', on: { click: () => editIssuer(issuer, reload) } }, `Edit issuer ${issuer.name}`),
      remove) : null),
    card('Rules',
      h('p', { class: 'muted small' }, 'Tried in order; the first whose every claim holds decides. A token that matches none enrolls nothing.'),
      table(`Rules of ${issuer.name}`, ['#', 'Name', 'Claims', 'Projects', 'Secrets', 'Machine lifetime', 'Actions'], issuer.rules.map(ruleRow),
        'No rules yet: this issuer\u2019s tokens enroll nothing until a rule matches them.')),
    may && projects.length ? card('Add a rule', addRuleForm(issuer, secretLists, reload)) : null,
    may && !projects.length ? card('Add a rule', h('p', { class: 'muted' }, 'Create a project first: a rule names the projects its workloads join.')) : null,
    card('Enroll a workload',
      h('p', { class: 'muted small' }, 'The workload runs one of these; it is approved at once when its token matches a rule.'),
      enrollCommands(vault && vault.vaultId, issuer).map(([label, text, what]) => h('div', { class: 'stack-sm top-gap' },
        h('p', { class: 'small' }, label), command(text, what)))));
  return undefined;
}
