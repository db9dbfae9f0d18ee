// The dashboard shell: who is signed in, the navigation, and the hash router.

import * as api from './api.js';
import { h, clear, screen, fail, announce, button, beginRoute, explain } from './page.js';
import { loginPage, setupPage, invitePage, stepUp, logout, takeSsoReturn } from './auth.js';
import { overviewPage } from './overview.js';
import { projectsPage } from './projects.js';
import { secretsPage } from './secrets.js';
import { machinesPage } from './machines.js';
import { tokensPage } from './tokens.js';
import { allowlistPage } from './allowlist.js';
import { auditPage } from './audit.js';
import { usersPage } from './users.js';
import { trashPage } from './trash.js';
import { leasesPage } from './leases.js';
import { accountPage } from './account.js';
import { sharePage, openSharePage } from './share.js';
import { alertsPage } from './alerts.js';
import { ssoPage } from './sso.js';
import { issuersPage } from './issuers.js';
import { agentsPage } from './agents.js';
import { keysPage } from './keys.js';
import { connectionsPage } from './connections.js';
import { budgetsPage } from './budgets.js';

// [path, label, page, may(), why]: `may` hides a page the person's role or project scope would
// refuse (the server's permission table, as the session answer sends it: api.can); `why` is what
// the page says instead when opened by its address anyway.
const PAGES = [
  ['', 'Overview', overviewPage],
  ['projects', 'Projects', projectsPage],
  ['secrets', 'Secrets', secretsPage],
  ['machines', 'Machines', machinesPage],
  ['tokens', 'Tokens', tokensPage, () => api.can('list_tokens')],
  ['allowlist', 'IP allowlist', allowlistPage],
  ['trash', 'Trash', trashPage],
  ['leases', 'Leases', leasesPage],
  ['audit', 'Audit log', auditPage, () => api.can('read_audit')],
  ['alerts', 'Alerts', alertsPage, () => api.can('manage_vault')],
  ['users', 'Users', usersPage, () => api.can('manage_users')],
  ['sso', 'Single sign-on', ssoPage, () => api.can('manage_owners'), 'Single sign-on is managed by owners.'],
  ['issuers', 'Workload identity', issuersPage, () => api.can('read') && !api.session.scoped, 'Trusted issuers cover the whole vault.'],
  ['agents', 'AI agents', agentsPage, () => api.can('read') && !api.session.scoped, 'AI agents cover the whole vault.'],
  ['keys', 'Root keys', keysPage, () => api.can('manage_owners'), 'Root keys are managed by owners.'],
  ['connections', 'Connections', connectionsPage],
  ['budgets', 'Request budgets', budgetsPage],
  ['share', 'Share', sharePage, () => api.can('write_secrets')],
  ['account', 'Account', accountPage],
];

const PUBLIC = { login: loginPage, setup: setupPage, invite: invitePage, s: openSharePage };

function route() {
  // `#/login?sso=failed`: the query belongs to the page, not to its name.
  const parts = location.hash.replace(/^#\/?/, '').split('?')[0].split('/');
  return { name: parts[0] || '', arg: parts.slice(1).map(decodeURIComponent).join('/') };
}

function shell(signedIn) {
  const nav = document.getElementById('nav');
  const who = clear(document.getElementById('who'));
  const toggle = document.getElementById('nav-toggle');
  nav.hidden = !signedIn;
  toggle.hidden = !signedIn;
  if (!signedIn) return;
  const user = api.session.user || {};
  who.append(
    h('span', { class: 'who-name' }, user.username || ''), h('span', { class: 'badge' }, user.role || ''),
    button('Sign out', logout, 'small'),
  );
  const { name } = route();
  clear(nav).appendChild(h('ul', null, PAGES
    .filter(([, , , allowed]) => !allowed || allowed())
    .map(([path, label]) => h('li', null, h('a', {
      href: `#/${path}`,
      'aria-current': path === name ? 'page' : null,
    }, label)))));
}

async function ensureSession() {
  if (api.session.csrfToken) return true;
  try {
    api.adopt(await api.raw('GET', '/v1/auth/session'));
    return true;
  } catch (e) {
    if (e.status !== 401) fail(e);
    return false;
  }
}

let rendering = 0;

async function render() {
  const ticket = ++rendering;
  beginRoute(location.hash);
  const { name, arg } = route();
  document.getElementById('nav').classList.remove('open');
  document.getElementById('nav-toggle').setAttribute('aria-expanded', 'false');
  if (PUBLIC[name]) {
    shell(false);
    try {
      await PUBLIC[name](arg);
    } finally {
      if (ticket === rendering) document.getElementById('main').removeAttribute('aria-busy');
    }
    return;
  }
  if (!(await ensureSession())) {
    sessionStorage.setItem('signet.after-login', location.hash || '#/');
    location.hash = '#/login';
    return;
  }
  if (ticket !== rendering) return;
  // Back from the provider after an SSO sign-in, link or step-up: the server always lands on
  // `#/`, so go on to the page the person started from.
  const back = takeSsoReturn();
  if (back && name === '' && back.hash && back.hash !== location.hash && back.hash !== '#/') {
    if (back.purpose === 'step_up' && api.session.stepUpUntil > Date.now()) announce('Confirmed. Repeat the action to go on.');
    location.hash = back.hash;
    return;
  }
  // The navigation is drawn once signed in; its highlight moves only when the new page is there,
  // and meanwhile the old page stays, marked busy (never an empty card).
  const main = document.getElementById('main');
  if (document.getElementById('nav').hidden) shell(true);
  main.setAttribute('aria-busy', 'true');
  const page = PAGES.find(([path]) => path === name);
  try {
    if (!page) {
      screen('Not found', h('p', null, 'There is no such page. ', h('a', { href: '#/' }, 'Go to the overview.')));
    } else if (page[3] && !page[3]()) {
      const role = (api.session.user && api.session.user.role) || '';
      screen(page[1], h('p', { class: 'callout' },
        page[4] ? `${page[4]} ` : null,
        `Your role (${role}${api.session.scoped ? ', limited to some projects' : ''}) cannot use this page. `,
        h('a', { href: '#/' }, 'Go to the overview.')));
    } else {
      try {
        await page[2](arg);
      } catch (e) {
        if (e.status === 401) return;
        screen(page[1], h('p', { class: 'callout error', role: 'alert' }, `Could not load this page: ${explain(e).text}`));
      }
    }
  } finally {
    if (ticket === rendering) {
      main.removeAttribute('aria-busy');
      if (api.session.csrfToken) shell(true);
    }
  }
  if (ticket === rendering) main.focus({ preventScroll: true });
}

api.onStepUp(stepUp);
api.onUnauthenticated(() => {
  api.forget();
  if (!location.hash.startsWith('#/login')) {
    sessionStorage.setItem('signet.after-login', location.hash || '#/');
    location.hash = '#/login';
  }
});

document.getElementById('nav-toggle').addEventListener('click', (ev) => {
  const nav = document.getElementById('nav');
  const open = nav.classList.toggle('open');
  ev.currentTarget.setAttribute('aria-expanded', String(open));
});

window.addEventListener('hashchange', render);
render();

/** Re-renders the current page, after an action changed what it shows. */
export function refresh() {
  return render();
}
