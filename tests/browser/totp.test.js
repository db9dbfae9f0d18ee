// The TOTP helper against RFC 6238 appendix B (SHA-1 rows, last 6 digits).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { totp } from './totp.js';

// "12345678901234567890" in base32.
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

test('RFC 6238 SHA-1 vectors', () => {
  assert.equal(totp(SECRET, 59 * 1000), '287082');
  assert.equal(totp(SECRET, 1111111109 * 1000), '081804');
  assert.equal(totp(SECRET, 1234567890 * 1000), '005924');
  assert.equal(totp(SECRET, 20000000000 * 1000), '353130');
});
