// The dashboard shell: who is signed in, the navigation, and the hash router.

import * as api from './api.js';
import { h, clear, screen, fail, announce, button, beginRoute } from './page.js';
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

const PAGES = [
  ['', 'Overview', overviewPage],
  ['projects', 'Projects', projectsPage],
  ['secrets', 'Secrets', secretsPage],
  ['machines', 'Machines', machinesPage],
  ['tokens', 'Tokens', tokensPage],
  ['allowlist', 'IP allowlist', allowlistPage],
  ['trash', 'Trash', trashPage],
  ['leases', 'Leases', leasesPage],
  ['audit', 'Audit log', auditPage],
  ['alerts', 'Alerts', alertsPage, (role) => role === 'owner' || role === 'admin'],
  ['users', 'Users', usersPage, (role) => role === 'owner' || role === 'admin'],
  ['sso', 'Single sign-on', ssoPage, (role) => role === 'owner'],
  ['share', 'Share', sharePage, (role) => role !== 'viewer'],
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
    .filter(([, , , allowed]) => !allowed || allowed(user.role))
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
    await PUBLIC[name](arg);
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
  shell(true);
  const page = PAGES.find(([path]) => path === name);
  if (!page) {
    screen('Not found', h('p', null, 'There is no such page. ', h('a', { href: '#/' }, 'Go to the overview.')));
    return;
  }
  try {
    await page[2](arg);
  } catch (e) {
    if (e.status === 401) return;
    screen(page[1], h('p', { class: 'callout error', role: 'alert' }, `Could not load this page: ${e.message}`));
  }
  if (ticket === rendering) document.getElementById('main').focus({ preventScroll: true });
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
