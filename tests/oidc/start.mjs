// Starts tests/oidc/provider.mjs as a child process for Node tests (the browser suite, this
// folder's own test): writes the config to a temporary file, waits for the listening line, and
// returns the issuer with helpers. The Rust twin is crates/testkit/src/oidc_provider.rs.
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
