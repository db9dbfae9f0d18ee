// A real OpenID provider for Signet's SSO tests: `oidc-provider` (the certified npm package) on
// loopback, with a plain login form and automatic consent, so the tests exercise the same
// authorization-code + PKCE flow, signed ID tokens and JWKS that a production provider serves.
//
//   node provider.mjs CONFIG.json [--exit-on-stdin-close]
//
// CONFIG: {port?, clients: [{client_id, client_secret?, redirect_uris, ...client metadata}],
//          accounts: [{username, password, sub?, email, email_verified, name, groups, amr?, acr?}],
//          sessionTtlSeconds?}
// port 0 (or none) picks a free one. Prints one line, `oidc-provider listening on
// http://127.0.0.1:PORT`, when it answers. With --exit-on-stdin-close it exits when its parent
// closes stdin (or dies), so a killed test run leaves no provider behind.
//
// Test hook: `POST /__test/end-sessions` destroys every provider session (the "session expired at
// the provider" case) and answers {"ended": N}. It exists because the server listens on
// 127.0.0.1 only; never expose this file's server anywhere else.
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const [configPath, ...flags] = process.argv.slice(2);
if (!configPath) {
    console.error('usage: node provider.mjs CONFIG.json [--exit-on-stdin-close]');
    process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const accounts = (config.accounts ?? []).map((a) => ({
    sub: a.sub ?? a.username,
    email_verified: true,
    groups: [],
    amr: ['pwd'],
    acr: 'urn:signet:test:password',
    ...a,
}));
const bySub = new Map(accounts.map((a) => [a.sub, a]));
const sessionTtlSeconds = config.sessionTtlSeconds ?? 3600;

if (flags.includes('--exit-on-stdin-close')) {
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('error', () => process.exit(0));
    process.stdin.resume();
}

// In-memory storage that can enumerate sessions (oidc-provider's own memory adapter is an LRU
// that cannot), for the end-sessions hook.
const storage = new Map(); // "Model:id" -> {payload, expiresAt}
const live = (key) => {
    const entry = storage.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt <= Date.now()) {
        storage.delete(key);
        return undefined;
    }
    return entry.payload;
};
class Adapter {
    constructor(model) {
        this.model = model;
    }

    key(id) {
        return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
        const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
        storage.set(this.key(id), { payload, expiresAt });
        if (this.model === 'Session') storage.set(`SessionUid:${payload.uid}`, { payload: id, expiresAt });
        if (payload.userCode) storage.set(`UserCode:${payload.userCode}`, { payload: id, expiresAt });
    }

    async find(id) {
        return live(this.key(id));
    }

    async findByUid(uid) {
        const id = live(`SessionUid:${uid}`);
        return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(code) {
        const id = live(`UserCode:${code}`);
        return id === undefined ? undefined : this.find(id);
    }

    async consume(id) {
        const payload = live(this.key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
        storage.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
        for (const [key, { payload }] of storage) {
            if (payload && typeof payload === 'object' && payload.grantId === grantId) storage.delete(key);
        }
    }
}

function endSessions() {
    let ended = 0;
    for (const key of [...storage.keys()]) {
        if (key.startsWith('Session:') || key.startsWith('SessionUid:')) {
            if (key.startsWith('Session:')) ended += 1;
            storage.delete(key);
        }
    }
    return ended;
}

// Real keys, made fresh at every start: RS256 (the default for ID tokens) and ES256 (a client
// may ask for it with id_token_signed_response_alg).
function signingKey(type, options, alg) {
    const { privateKey } = generateKeyPairSync(type, options);
    const jwk = privateKey.export({ format: 'jwk' });
    return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(6).toString('hex')}` };
}
const jwks = {
    keys: [
        signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
        signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
    ],
};

const clients = (config.clients ?? []).map(({ client_id, client_secret, redirect_uris, ...rest }) => ({
    client_id,
    redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    ...(client_secret
        ? { client_secret, token_endpoint_auth_method: 'client_secret_basic' }
        : { token_endpoint_auth_method: 'none' }),
    ...rest,
}));

const profileClaims = ['preferred_username', 'name'];
const emailClaims = ['email', 'email_verified'];
const acrValues = [...new Set(accounts.map((a) => a.acr))];

// Listen first (port 0 means any free port): the issuer names the port.
const server = http.createServer();
await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port ?? 0, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
    adapter: (model) => new Adapter(model),
    clients,
    jwks,
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // Every claim Signet maps on is available with the `openid` scope alone, and the usual
    // scopes work too; conformIdTokenClaims off puts them in the ID token (Signet reads only that).
    claims: {
        // amr, acr and auth_time too: oidc-provider adds them only when the client asks (claims
        // parameter, max_age), and Signet reads amr + auth_time for its step-up rule.
        openid: ['sub', ...profileClaims, ...emailClaims, 'groups', 'amr', 'acr', 'auth_time'],
        profile: profileClaims,
        email: emailClaims,
        groups: ['groups'],
        sid: null,
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    acrValues,
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
        devInteractions: { enabled: false },
        claimsParameter: { enabled: true },
    },
    ttl: {
        Session: () => sessionTtlSeconds,
        Grant: () => sessionTtlSeconds,
        Interaction: () => 600,
        AuthorizationCode: () => 60,
        AccessToken: () => 600,
        IdToken: () => 600,
    },
    interactions: {
        url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    async findAccount(_ctx, sub) {
        const account = bySub.get(sub);
        if (!account) return undefined;
        return {
            accountId: sub,
            async claims() {
                return {
                    sub,
                    preferred_username: account.username,
                    email: account.email,
                    email_verified: account.email_verified,
                    name: account.name,
                    groups: account.groups,
                };
            },
        };
    },
    async renderError(ctx, out) {
        ctx.type = 'html';
        ctx.body = page('Error', `<h1>Sign-in error</h1><p id="error">${escape(out.error)}: ${escape(out.error_description ?? '')}</p>`);
    },
});
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

function escape(s) {
    return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body>${body}</body></html>`;
}

function loginForm(uid, clientId, { username = '', error } = {}) {
    return page(
        'Test provider: sign in',
        `<h1>Test provider</h1><p>Sign in to continue to <code>${escape(clientId)}</code>.</p>` +
            (error ? `<p id="error" role="alert">${escape(error)}</p>` : '') +
            `<form method="post" action="/interaction/${escape(uid)}/login">` +
            `<label>Username <input name="username" autocomplete="username" value="${escape(username)}"></label>` +
            `<label>Password <input name="password" type="password" autocomplete="current-password"></label>` +
            `<button type="submit">Sign in</button></form>` +
            `<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>`,
    );
}

function sameSecret(given, expected) {
    const a = createHash('sha256').update(String(given)).digest();
    const b = createHash('sha256').update(String(expected)).digest();
    return timingSafeEqual(a, b);
}

async function readForm(req) {
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
        size += chunk.length;
        if (size > 64 * 1024) throw Object.assign(new Error('body too large'), { status: 413 });
        chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, type, body) {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
}

// The interaction routes oidc-provider leaves to the host: the login form and consent.
async function interaction(req, res, uid, action) {
    let details;
    try {
        details = await provider.interactionDetails(req, res);
    } catch (err) {
        send(res, 400, 'text/html; charset=utf-8', page('Error', `<p id="error">${escape(err.message)}</p>`));
        return;
    }
    if (details.uid !== uid) {
        send(res, 400, 'text/html; charset=utf-8', page('Error', '<p id="error">interaction mismatch</p>'));
        return;
    }
    const { prompt, params, session, grantId } = details;

    if (action === 'abort') {
        await provider.interactionFinished(req, res, {
            error: 'access_denied',
            error_description: 'End-User aborted interaction',
        }, { mergeWithLastSubmission: false });
        return;
    }

    if (prompt.name === 'login') {
        if (action !== 'login' || req.method !== 'POST') {
            send(res, 200, 'text/html; charset=utf-8', loginForm(uid, params.client_id));
            return;
        }
        const form = await readForm(req);
        const username = form.get('username') ?? '';
        const password = form.get('password') ?? '';
        const account = accounts.find((a) => a.username === username);
        // Compare against something even for an unknown username, as a real provider would.
        const ok = sameSecret(password, account ? account.password : randomBytes(16).toString('hex')) && !!account;
        if (!ok) {
            send(res, 401, 'text/html; charset=utf-8',
                loginForm(uid, params.client_id, { username, error: 'Invalid username or password.' }));
            return;
        }
        await provider.interactionFinished(req, res, {
            login: { accountId: account.sub, amr: account.amr, acr: account.acr, remember: true },
        }, { mergeWithLastSubmission: false });
        return;
    }

    if (prompt.name === 'consent') {
        // Consent is granted automatically for whatever the client asked.
        const grant = grantId
            ? await provider.Grant.find(grantId)
            : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
        const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
        if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
        if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
        if (missingResourceScopes) {
            for (const [indicator, scopes] of Object.entries(missingResourceScopes)) {
                grant.addResourceScope(indicator, scopes.join(' '));
            }
        }
        const saved = await grant.save();
        await provider.interactionFinished(req, res, { consent: { grantId: saved } }, {
            mergeWithLastSubmission: true,
        });
        return;
    }

    send(res, 501, 'text/plain', `prompt ${prompt.name} not implemented`);
}

const handle = provider.callback();
server.on('request', (req, res) => {
    const url = new URL(req.url, issuer);
    const route = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?$/);
    let work;
    if (route) {
        work = interaction(req, res, route[1], route[2]);
    } else if (url.pathname === '/__test/end-sessions' && req.method === 'POST') {
        const ended = endSessions();
        work = Promise.resolve(send(res, 200, 'application/json', JSON.stringify({ ended })));
    } else {
        handle(req, res);
        return;
    }
    work.catch((err) => {
        console.error('test provider:', err);
        if (!res.headersSent) send(res, err.status ?? 500, 'text/plain', 'error');
        else res.end();
    });
});

console.log(`oidc-provider listening on ${issuer}`);
