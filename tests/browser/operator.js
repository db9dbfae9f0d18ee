// The CLI signed in as a person (`signet login`), for checking what the dashboard made against
// what the CLI sees. Each login spends one of the person's recovery codes, so no TOTP step is
// reused between the browser and the CLI.

import { execFile } from 'node:child_process';
import { BIN } from './harness.js';

const spent = new WeakMap();

/** Signs `who` in with the CLI under a fresh SIGNET_HOME named `name`; resolves with the home. */
export function operatorLogin(server, who, name) {
  const home = server.home(name);
  const used = spent.get(who) || 0;
  spent.set(who, used + 1);
  const code = who.recoveryCodes[used];
  return new Promise((ok, fail) => {
    const env = { ...process.env, SIGNET_HOME: home };
    delete env.SIGNET_IDENTITY;
    delete env.SIGNET_OPERATOR_IDENTITY;
    const child = execFile(BIN, ['login', '--server', server.url, '--email', who.email, '--password-stdin', '--recovery-code', code],
      { env, timeout: 60000 }, (err, stdout, stderr) => {
        if (err) fail(new Error(`signet login: ${stderr || err.message}`));
        else ok(home);
      });
    child.stdin.end(`${who.password}\n`);
  });
}
