// Request budgets: how many requests a minute a machine may make before it is answered 429,
// vault-wide (admins) and per machine (admins, unscoped). Empty or 0: unlimited.

import * as api from './api.js';
import { h, screen, card, table, action, field, form, announce, idCell } from './page.js';

const perMinute = (n) => (n ? `${n} request${n === 1 ? '' : 's'} a minute` : 'unlimited');

export async function budgetsPage() {
  const [b, machines] = await Promise.all([
    api.get('/v1/admin/request-budgets'),
    api.get('/v1/admin/machines').then((r) => r.machines || [], () => []),
  ]);
  const reload = () => budgetsPage();
  const names = new Map(machines.map((m) => [m.id, m.name]));
  const vaultManager = api.can('manage_vault');
  const machineManager = api.can('manage_machines') && !api.session.scoped;
  const set = (body) => api.post('/v1/admin/request-budgets', body);
  const number = (v) => (v === '' ? null : Number(v));

  const defaultForm = form('inline-form', [
    field('Requests a minute, per machine', { name: 'perMinute', id: 'budget-default', type: 'number', min: 0, value: b.defaultPerMinute ? String(b.defaultPerMinute) : '' },
      { hint: 'Empty or 0: unlimited.' }),
  ], 'Save default', async (v) => {
    const n = number(v.perMinute);
    await set({ requestsPerMinute: n });
    await reload();
    announce(`Default budget: ${perMinute(n)}.`);
  }, { fieldsFor: () => ['perMinute'] });

  const own = b.machines || [];
  const candidates = machines.filter((m) => m.status === 'approved');
  const machineForm = form('inline-form', [
    field('Machine', { name: 'machine', id: 'budget-machine', options: candidates.map((m) => [m.id, m.name]) }, { tag: 'select' }),
    field('Requests a minute', { name: 'perMinute', id: 'budget-machine-rate', type: 'number', min: 0, required: true },
      { hint: '0: unlimited, whatever the default.' }),
  ], 'Set budget', async (v) => {
    await set({ machineId: v.machine, requestsPerMinute: Number(v.perMinute) });
    await reload();
    announce(`${names.get(v.machine) || v.machine}: ${perMinute(Number(v.perMinute))}.`);
  }, { fieldsFor: () => ['perMinute'] });

  const rows = own.map((m) => {
    const name = names.get(m.machineId) || m.machineId;
    return [
      name,
      idCell(m.machineId, `id of ${name}`),
      perMinute(m.perMinute),
      machineManager ? action(`Clear budget of ${name}`, async () => {
        await set({ machineId: m.machineId, requestsPerMinute: null });
        await reload();
      }, { cls: 'small', done: `${name} follows the default again.` }) : '',
    ];
  });
  screen('Request budgets',
    h('p', { class: 'muted' },
      'A machine over its budget is answered 429 (too many requests) with the seconds to wait.'),
    card('Vault default',
      h('p', { id: 'budget-default-now' }, 'Every machine without its own budget: ', h('strong', null, perMinute(b.defaultPerMinute)), '.'),
      vaultManager ? defaultForm : null),
    card('Machines with their own budget',
      table('Machine budgets', ['Machine', 'Id', 'Budget', 'Actions'], rows, 'No machine has its own budget.'),
      machineManager && candidates.length ? machineForm : null));
  return undefined;
}
