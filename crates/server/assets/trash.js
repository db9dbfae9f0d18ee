// Deleted secrets and projects: who deleted them and when, until restored, purged, or past the
// vault's retention.

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, announce } from './page.js';

export async function trashPage() {
  const { items = [], retentionDays } = await api.get('/v1/admin/trash');
  const rows = items.map((i) => [
    i.name,
    badge(i.kind),
    i.kind === 'secret' ? i.projectName : '',
    i.deletedByName || mono(i.deletedBy || 'unknown'),
    when(i.deletedAt),
    when(i.purgeAfter),
    mono(i.id),
    h('div', { class: 'actions' },
      action('Restore', async () => {
        await api.post(`/v1/admin/trash/${api.seg(i.id)}/restore`, {});
        await trashPage();
        announce(`Restored the ${i.kind} ${i.name}.`);
      }, { cls: 'small' }),
      action('Purge', async () => {
        await api.post(`/v1/admin/trash/${api.seg(i.id)}/purge`, {});
        await trashPage();
        announce(`Purged the ${i.kind} ${i.name}.`);
      }, {
        cls: 'small danger',
        confirmText: `Purge the ${i.kind} ${i.name} for good? Its values and keys are destroyed and cannot be restored.`,
      })),
  ]);
  screen('Trash',
    h('p', { class: 'muted' },
      `Deleted secrets and projects are kept for ${retentionDays} days, then purged. Machines cannot read them meanwhile.`),
    card('Deleted items', table('Trash', ['Name', 'Kind', 'Project', 'Deleted by', 'Deleted', 'Purged after', 'Id', 'Actions'],
      rows, 'The trash is empty.')));
}
