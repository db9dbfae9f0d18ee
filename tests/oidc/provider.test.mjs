// The test provider itself, checked as an OpenID client would: discovery, the login form, PKCE,
// the code exchange with client_secret_basic, an ID token verified against the JWKS carrying the
// claims Signet maps on (groups, amr), a reused session, the end-sessions hook, and refusals.
//   cd tests/oidc && node --test
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';

import { CookieJar as Jar, signInOverHttp, startProvider } from './start.mjs';

const CALLBACK = 'http://127.0.0.1:9/v1/auth/sso/callback';
const SECRET = 'test-client-secret-0123456789abcdef';
let idp;

before(async () => {
    idp = await startProvider({
        clients: [
            { client_id: 'signet', client_secret: SECRET, redirect_uris: [CALLBACK] },
            { client_id: 'public-es', redirect_uris: [CALLBACK], id_token_signed_response_alg: 'ES256' },
        ],
        accounts: [
            { username: 'alice', password: 'alice-pw', sub: 'sub-alice', email: 'alice@example.test', email_verified: true, name: 'Alice A', groups: ['signet-admins', 'staff'], amr: ['pwd', 'otp'] },
            { username: 'bob', password: 'bob-pw', email: 'bob@example.test', email_verified: false, name: 'Bob', groups: [] },
        ],
    });
});
after(async () => { await idp?.stop(); });

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function authorizeUrl(clientId, { scope = 'openid', pkce = true, extra = {} } = {}) {
    const verifier = b64url(randomBytes(32));
    const state = b64url(randomBytes(16));
    const nonce = b64url(randomBytes(16));
    const url = new URL(`${idp.issuer}/auth`);
    url.search = new URLSearchParams({
        response_type: 'code', client_id: clientId, redirect_uri: CALLBACK, scope, state, nonce,
        ...(pkce ? { code_challenge: b64url(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256' } : {}),
        ...extra,
    });
    return { url: url.href, verifier, state, nonce };
}

const drive = (url, jar, credentials) => signInOverHttp(idp.issuer, url, credentials, jar);

async function exchange(code, verifier, clientId, secret) {
    const form = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: verifier });
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    if (secret) headers.authorization = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
    else form.set('client_id', clientId);
    const res = await fetch(`${idp.issuer}/token`, { method: 'POST', headers, body: form });
    return { status: res.status, body: await res.json() };
}

async function verifiedClaims(idToken) {
    const [h, p, s] = idToken.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    const jwks = await (await fetch(`${idp.issuer}/jwks`)).json();
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    assert.ok(jwk, 'the kid is in the JWKS');
    assert.equal(jwk.d, undefined, 'the JWKS is public keys only');
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    const data = Buffer.from(`${h}.${p}`);
    const sig = Buffer.from(s, 'base64url');
    const ok = header.alg === 'RS256'
        ? verify('sha256', data, key, sig)
        : verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    assert.ok(ok, `the ${header.alg} signature verifies`);
    return { header, claims: JSON.parse(Buffer.from(p, 'base64url')) };
}

test('discovery names the issuer and the endpoints Signet uses', async () => {
    const doc = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json();
    assert.equal(doc.issuer, idp.issuer);
    assert.equal(doc.authorization_endpoint, `${idp.issuer}/auth`);
    assert.equal(doc.token_endpoint, `${idp.issuer}/token`);
    assert.equal(doc.jwks_uri, `${idp.issuer}/jwks`);
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
});

test('a sign-in with the form yields a code whose ID token carries the mapped claims', async () => {
    const jar = new Jar();
    const a = authorizeUrl('signet');
    const r = await drive(a.url, jar, { username: 'alice', password: 'alice-pw' });
    assert.equal(r.formsSeen, 1);
    assert.equal(r.callback.origin + r.callback.pathname, CALLBACK);
    assert.equal(r.callback.searchParams.get('state'), a.state);
    assert.equal(r.callback.searchParams.get('iss'), idp.issuer);
    const code = r.callback.searchParams.get('code');
    assert.ok(code);

    const t = await exchange(code, a.verifier, 'signet', SECRET);
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const { header, claims } = await verifiedClaims(t.body.id_token);
    assert.equal(header.alg, 'RS256');
    assert.equal(claims.iss, idp.issuer);
    assert.equal(claims.aud, 'signet');
    assert.equal(claims.sub, 'sub-alice');
    assert.equal(claims.nonce, a.nonce);
    assert.equal(claims.preferred_username, 'alice');
    assert.equal(claims.email, 'alice@example.test');
    assert.equal(claims.email_verified, true);
    assert.equal(claims.name, 'Alice A');
    assert.deepEqual(claims.groups, ['signet-admins', 'staff']);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.ok(Number.isInteger(claims.auth_time));

    // The code is single use.
    const again = await exchange(code, a.verifier, 'signet', SECRET);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');

    // The provider's session skips the form next time, until the sessions are ended.
    const b = authorizeUrl('signet');
    const r2 = await drive(b.url, jar);
    assert.equal(r2.formsSeen, 0);
    assert.ok(r2.callback.searchParams.get('code'));
    assert.ok((await idp.endSessions()) >= 1);
    const r3 = await drive(authorizeUrl('signet').url, jar);
    assert.equal(r3.formsSeen, 1, 'after end-sessions the login form is shown again');
    assert.equal(r3.callback, undefined);

    // prompt=login asks again even with a live session (Signet's step-up).
    const jar2 = new Jar();
    await drive(authorizeUrl('signet').url, jar2, { username: 'alice', password: 'alice-pw' });
    const r4 = await drive(authorizeUrl('signet', { extra: { prompt: 'login', max_age: '0' } }).url, jar2);
    assert.equal(r4.formsSeen, 1);
});

test('a public client with ES256 ID tokens, and bob without amr settings', async () => {
    const a = authorizeUrl('public-es', { scope: 'openid profile email' });
    const r = await drive(a.url, new Jar(), { username: 'bob', password: 'bob-pw' });
    const t = await exchange(r.callback.searchParams.get('code'), a.verifier, 'public-es');
    assert.equal(t.status, 200, JSON.stringify(t.body));
    const { header, claims } = await verifiedClaims(t.body.id_token);
    assert.equal(header.alg, 'ES256');
    assert.equal(claims.sub, 'bob');
    assert.equal(claims.email_verified, false);
    assert.deepEqual(claims.groups, []);
    assert.deepEqual(claims.amr, ['pwd']);
});

test('refusals: wrong password, no PKCE, wrong verifier, a code for another client', async () => {
    const wrong = await drive(authorizeUrl('signet').url, new Jar(), { username: 'alice', password: 'nope' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.html, /Invalid username or password/);
    const unknown = await drive(authorizeUrl('signet').url, new Jar(), { username: 'mallory', password: 'alice-pw' });
    assert.equal(unknown.status, 401);

    const noPkce = await drive(authorizeUrl('signet', { pkce: false }).url, new Jar(), { username: 'alice', password: 'alice-pw' });
    assert.equal(noPkce.callback.searchParams.get('error'), 'invalid_request');

    const a = authorizeUrl('signet');
    const r = await drive(a.url, new Jar(), { username: 'alice', password: 'alice-pw' });
    const code = r.callback.searchParams.get('code');
    const badVerifier = await exchange(code, b64url(randomBytes(32)), 'signet', SECRET);
    assert.equal(badVerifier.body.error, 'invalid_grant');

    const b = authorizeUrl('signet');
    const r2 = await drive(b.url, new Jar(), { username: 'alice', password: 'alice-pw' });
    const other = await exchange(r2.callback.searchParams.get('code'), b.verifier, 'public-es');
    assert.equal(other.body.error, 'invalid_grant', 'a code issued to signet is refused for another client');
    const wrongSecret = await exchange(r2.callback.searchParams.get('code'), b.verifier, 'signet', 'not-the-secret');
    assert.equal(wrongSecret.status, 401);
});

test('Cancel on the form redirects to the client with access_denied', async () => {
    const jar = new Jar();
    const a = authorizeUrl('signet');
    const first = await drive(a.url, jar);
    const uid = first.html.match(/\/interaction\/([^/"]+)\/abort/)[1];
    const res = await fetch(`${idp.issuer}/interaction/${uid}/abort`, { method: 'POST', redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(res);
    const r = await drive(new URL(res.headers.get('location'), idp.issuer).href, jar);
    assert.equal(r.callback.searchParams.get('error'), 'access_denied');
    assert.equal(r.callback.searchParams.get('state'), a.state);
});
