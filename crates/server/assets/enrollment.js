// How a machine asked to join, in words. The Machines and AI agents pages both show it next to
// a pending host (a tokenless request deserves the closest look), so it lives here rather than
// in either page.

import { h, badge } from './page.js';

/** Each way of enrolling: its label, then what it means for the person approving. */
export const HOW = {
  request: ['Tokenless request', 'No token vouches for it: anyone who reaches the server can ask. Approve only a fingerprint you got from the machine itself.'],
  bootstrap: ['Bootstrap token', 'It redeemed a one-use bootstrap token an administrator issued.'],
  enrollment: ['Enrollment token', 'It joined with an enrollment token (approved at once, within the token\'s limits).'],
};

/** The label of `via`, or `via` itself for a way this page does not know yet. */
export const howLabel = (via) => (HOW[via] || [via])[0];

/** What `via` means, or '' when this page does not know it. */
export const howText = (via) => (HOW[via] || [])[1] || '';

/** A badge naming how machine `m` enrolled, warning-coloured for a tokenless request. */
export function howBadge(m) {
  return h('span', { class: 'how', title: howText(m.enrolledVia) || null }, badge(howLabel(m.enrolledVia), m.enrolledVia === 'request' ? 'warn' : ''));
}
