// Starts tests/oidc/provider.mjs as a child process for Node tests (the browser suite, this
// folder's own test): writes the config to a temporary file, waits for the listening line, and
// returns the issuer with helpers; and `signInOverHttp`, a person at the provider driven over HTTP
// that stops at the first redirect leaving it (Signet's callback, unfollowed). The Rust twin of
// both is crates/testkit/src/oidc_provider.rs.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * @param {{clients: object[], accounts: object[], sessionTtlSeconds?: number, port?: number}} config
 * @returns {Promise<{issuer: string, endSessions: () => Promise<number>, stop: () => Promise<void>, log: () => string}>}
 */
export async function startProvider(config) {
    if (!existsSync(join(here, 'node_modules', 'oidc-provider'))) {
        throw new Error('tests/oidc/node_modules is missing: run scripts/setup.sh (or npm ci in tests/oidc)');
    }
    const dir = mkdtempSync(join(tmpdir(), 'signet-oidc-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ port: 0, ...config }), { mode: 0o600 });
    const child = spawn(process.execPath, [join(here, 'provider.mjs'), file, '--exit-on-stdin-close'], {
        stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => { err += chunk; });
    child.stdout.setEncoding('utf8');
    const issuer = await new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`test provider did not start:\n${out}${err}`)), 30000);
        child.stdout.on('data', (chunk) => {
            out += chunk;
            const m = out.match(/oidc-provider listening on (http:\/\/127\.0\.0\.1:\d+)/);
            if (m) {
                clearTimeout(timer);
                ok(m[1]);
            }
        });
        child.on('exit', (code) => {
            clearTimeout(timer);
            fail(new Error(`test provider exited ${code}:\n${out}${err}`));
        });
    });
    return {
        issuer,
        async endSessions() {
            const res = await fetch(`${issuer}/__test/end-sessions`, { method: 'POST' });
            if (!res.ok) throw new Error(`end-sessions answered ${res.status}`);
            return (await res.json()).ended;
        },
        async stop() {
            if (child.exitCode === null) {
                const gone = new Promise((ok) => child.once('exit', ok));
                child.kill('SIGTERM');
                await gone;
            }
            rmSync(dir, { recursive: true, force: true });
        },
        log: () => out + err,
    };
}

/** The cookies one browser holds for the provider's origin (one origin: name -> value). */
export class CookieJar {
    constructor() { this.cookies = new Map(); }

    store(res) {
        for (const line of res.headers.getSetCookie()) {
            const [pair, ...attrs] = line.split(';');
            const i = pair.indexOf('=');
            const name = pair.slice(0, i).trim();
            const value = pair.slice(i + 1).trim();
            const expired = attrs.some((a) => /^\s*expires=.*1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
            if (expired || value === '') this.cookies.delete(name);
            else this.cookies.set(name, value);
        }
    }

    header() { return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '); }
}

/**
 * Opens `start` (an authorization URL at the provider `issuer`) with `jar`, follows the
 * provider's own redirects, posts its login form with `credentials` ({username, password}) when
 * shown (once), and stops at the first redirect elsewhere. Resolves with `{callback: URL}` there,
 * or `{status, html}` for a page that is not a redirect out (the form again, an error page), with
 * `formsSeen` either way.
 */
export async function signInOverHttp(issuer, start, credentials, jar = new CookieJar()) {
    const origin = new URL(issuer).origin;
    let url = start;
    let method = 'GET';
    let body;
    let formsSeen = 0;
    for (let hop = 0; hop < 20; hop += 1) {
        const res = await fetch(url, {
            method, body, redirect: 'manual',
            headers: { cookie: jar.header(), ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        });
        jar.store(res);
        method = 'GET';
        body = undefined;
        if (res.status >= 300 && res.status < 400) {
            const next = new URL(res.headers.get('location'), url);
            if (next.origin !== origin) return { callback: next, formsSeen };
            url = next.href;
            continue;
        }
        const html = await res.text();
        const form = html.match(/<form method="post" action="([^"]+\/login)"/);
        if (!form) return { status: res.status, html, formsSeen };
        formsSeen += 1;
        if (!credentials || formsSeen > 1) return { status: res.status, html, formsSeen };
        url = new URL(form[1], url).href;
        method = 'POST';
        body = new URLSearchParams({ username: credentials.username, password: credentials.password }).toString();
    }
    throw new Error(`more than 20 redirects from ${start}`);
}
