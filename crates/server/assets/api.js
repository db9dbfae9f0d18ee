// The one door to the server. Every request is same-origin JSON; POSTs carry the CSRF token
// from the session answer, because the server refuses a cookie-authenticated POST without it.

export class ApiError extends Error {
  constructor(status, code, message, data) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    /** The whole error body, for codes that carry more (`currentVersion`, `retryAfter`…). */
    this.data = data || null;
  }
}

export const session = {
  csrfToken: '',
  user: null,
  stepUpUntil: 0,
  /** Permission names the server sent (crates/core/src/role.rs), e.g. `manage_tokens`. */
  permissions: [],
  /** Whether the person is limited to some projects (then no token list and no audit log). */
  scoped: false,
};

// What each role holds, for a server too old to send `permissions`: the table of
// crates/core/src/role.rs, lowest role first. The server's answer wins whenever it has one.
const ROLE_RANK = { viewer: 0, developer: 1, admin: 2, owner: 3 };
const LOWEST_ROLE = {
  read: 'viewer',
  write_secrets: 'developer',
  manage_projects: 'admin',
  manage_tokens: 'admin',
  manage_machines: 'admin',
  manage_allowlist: 'admin',
  manage_vault: 'admin',
  manage_users: 'admin',
  manage_owners: 'owner',
};

/**
 * Whether the signed-in person may do `what`: a permission name (`write_secrets`,
 * `manage_tokens`, …) or one of the whole-vault views a project-scoped person is refused
 * (`list_tokens`, `read_audit`). Only for hiding what would be refused: the server decides.
 */
export function can(what) {
  if (what === 'list_tokens' || what === 'read_audit') return can('read') && !session.scoped;
  if (Array.isArray(session.permissions) && session.permissions.length) return session.permissions.includes(what);
  const role = session.user && session.user.role;
  const lowest = LOWEST_ROLE[what];
  return role in ROLE_RANK && lowest !== undefined && ROLE_RANK[role] >= ROLE_RANK[lowest];
}

let stepUpHandler = null;
let unauthenticatedHandler = null;

/** Registers what to do on 403 step_up_required: resolves true once the session stepped up. */
export function onStepUp(fn) { stepUpHandler = fn; }

/** Registers what to do when the session is gone (401). */
export function onUnauthenticated(fn) { unauthenticatedHandler = fn; }

export function adopt(answer) {
  session.csrfToken = answer.csrfToken || '';
  session.user = answer.user || null;
  session.stepUpUntil = answer.stepUpUntil || 0;
  session.permissions = Array.isArray(answer.permissions) ? answer.permissions : [];
  session.scoped = answer.scoped === true;
}

export function forget() {
  session.csrfToken = '';
  session.user = null;
  session.stepUpUntil = 0;
  session.permissions = [];
  session.scoped = false;
}

async function send(method, path, body) {
  const init = {
    method,
    credentials: 'same-origin',
    headers: { Accept: 'application/json' },
    cache: 'no-store',
  };
  if (method === 'POST') {
    init.headers['Content-Type'] = 'application/json';
    if (session.csrfToken) init.headers['X-CSRF-Token'] = session.csrfToken;
    init.body = JSON.stringify(body ?? {});
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', 'The server could not be reached.');
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    throw new ApiError(res.status, data && data.code, data && data.error, data);
  }
  return data ?? {};
}

/**
 * A request that the dashboard recovers from: a missing step-up asks for a second factor and
 * retries once, a dead session goes to the sign-in page.
 */
async function call(method, path, body, { quiet401 = false } = {}) {
  try {
    return await send(method, path, body);
  } catch (e) {
    if (e.status === 403 && e.code === 'step_up_required' && stepUpHandler) {
      if (await stepUpHandler()) return send(method, path, body);
      throw new ApiError(403, 'step_up_cancelled', 'Confirmation cancelled; nothing was changed.');
    }
    if (e.status === 401 && !quiet401 && unauthenticatedHandler) {
      unauthenticatedHandler();
    }
    throw e;
  }
}

export const get = (path, opts) => call('GET', path, undefined, opts);
export const post = (path, body, opts) => call('POST', path, body, opts);
/** Without the recovery above: for the sign-in routes themselves. */
export const raw = send;

/** Path segment escaping for ids that come from the server. */
export const seg = (s) => encodeURIComponent(String(s));
