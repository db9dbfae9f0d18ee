// Root keys, for owners: the keyring's generations and how many project keys each still wraps,
// rotating (a new generation, then every project key re-wrapped under it, call by call, with
// progress) and retiring a generation nothing refers to. No key material ever reaches the page:
// the server answers counts and numbers only.

import * as api from './api.js';
import { h, screen, card, table, when, badge, action, announce, copyButton, explain } from './page.js';

const ROTATE = '/v1/admin/keys/root/rotate';

/**
 * Re-wraps project keys until the server says there is no more, showing how far it got. The
 * first call (`start`) makes a new generation current; later calls only continue.
 */
async function rewrap(progress, start) {
  const bar = progress.querySelector('progress');
  const line = progress.querySelector('.rotation-line');
  progress.hidden = false;
  progress.setAttribute('aria-busy', 'true');
  let done = 0;
  let r = null;
  try {
    do {
      r = await api.post(ROTATE, { start: start && r === null });
      done += r.rewrapped;
      const total = done + r.remaining;
      bar.max = Math.max(total, 1);
      bar.value = total ? done : 1;
      line.textContent = `Generation ${r.generation}: re-wrapped ${done} of ${total} project key${total === 1 ? '' : 's'}${r.more ? '…' : '.'}`;
    } while (r.more);
  } catch (e) {
    // What was re-wrapped stays so; the page says where it stopped and how to go on.
    line.textContent = `Stopped: ${explain(e).text} ${r ? 'Press “Finish re-wrapping” to go on.' : 'Nothing was changed.'}`;
    throw e;
  } finally {
    progress.setAttribute('aria-busy', 'false');
  }
  return { ...r, done };
}

function command(text, what) {
  const code = h('code', null, text);
  return h('div', { class: 'copyrow' }, code, copyButton(text, what, code));
}

export async function keysPage() {
  const { generations = [] } = await api.get('/v1/admin/keys/root');
  const current = generations.find((g) => g.current) || generations[generations.length - 1] || { generation: 0 };
  // Project keys still under an older generation: a rotation was interrupted (or is running).
  const behind = generations.filter((g) => !g.current).reduce((n, g) => n + g.projectKeys, 0);
  const progress = h('div', { id: 'rotation-progress', class: 'top-gap', hidden: true },
    h('progress', { 'aria-label': 'Re-wrapping project keys', max: 1, value: 0 }),
    h('p', { class: 'rotation-line', role: 'status' }));
  const reload = () => keysPage();
  const after = async (r, verb) => {
    await reload();
    announce(`Root key ${verb}: generation ${r.generation} is current, ${r.done} project key${r.done === 1 ? '' : 's'} re-wrapped.`);
  };
  const rotate = action('Rotate the root key', async () => {
    const r = await rewrap(progress, true);
    await after(r, 'rotated');
  }, {
    cls: 'primary',
    typeName: 'rotate',
    confirmAction: 'Rotate the root key',
    confirmText: h('div', null,
      h('p', null, `A new root key generation (${current.generation + 1}) becomes current and every project key is re-wrapped under it, a few seconds of work per step, while the server keeps serving.`),
      h('p', null, 'Values are not re-encrypted and machines notice nothing. The root key file does not change; the old generation can be retired once it wraps nothing.')),
  });
  const resume = behind && generations.length > 1 ? action('Finish re-wrapping', async () => {
    const r = await rewrap(progress, false);
    await after(r, 'rotation finished');
  }, { cls: 'primary' }) : null;
  const row = (g) => [
    String(g.generation),
    g.current ? badge('current', 'ok') : badge(g.projectKeys ? 'still in use' : 'retirable', g.projectKeys ? 'warn' : ''),
    `${g.projectKeys} project key${g.projectKeys === 1 ? '' : 's'}`,
    g.generation === 0 ? 'the root key file' : when(g.createdMs),
    !g.current && g.projectKeys === 0
      ? action(`Retire generation ${g.generation}`, async () => {
        await api.post('/v1/admin/keys/root/retire', { generation: g.generation });
        await reload();
        announce(`Generation ${g.generation} retired.`);
      }, {
        cls: 'small danger',
        typeName: `generation ${g.generation}`,
        confirmAction: `Retire generation ${g.generation}`,
        confirmText: g.generation === 0
          ? 'Retire generation 0, the root key file itself? Backups sealed under it need that file to be restored.'
          : `Retire generation ${g.generation}? Its sealed copy is deleted from the store; backups made while it was current need it.`,
      })
      : '',
  ];
  screen('Root keys',
    h('p', { class: 'muted' },
      'The root key wraps each project\u2019s key; project keys encrypt values. Rotating makes a new root generation and re-wraps every project key under it. No key is ever shown here.'),
    behind && generations.length > 1 ? h('p', { class: 'callout', id: 'rotation-behind' },
      `${behind} project key${behind === 1 ? ' is' : 's are'} still wrapped under an older generation: a rotation was interrupted. Finish it to retire the old generation.`) : null,
    card('Generations',
      table('Root key generations', ['Generation', 'State', 'Wraps', 'Created', 'Actions'], generations.map(row), 'No generations.'),
      h('div', { class: 'actions top-gap' }, resume, rotate),
      progress),
    card('From a terminal',
      h('p', { class: 'muted small' }, 'The same, with an owner\u2019s CLI key:'),
      command('signet key status', 'key status command'),
      command('signet key rotate-root', 'rotate command'),
      command('signet key retire-root --generation N', 'retire command'),
      h('p', { class: 'muted small' }, 'A project\u2019s own key (which wraps its values\u2019 data keys) is rotated per project, by an owner or admin:'),
      command('signet project rotate-key PROJECT', 'project key rotate command')));
  return undefined;
}
