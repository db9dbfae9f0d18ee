// Deleted secrets and projects: who deleted them and when, until restored, purged, or past the
// vault's retention.

import * as api from './api.js';
import { h, screen, card, table, when, mono, badge, action, announce, filteredTable, idCell } from './page.js';

export async function trashPage() {
  const { items = [], retentionDays } = await api.get('/v1/admin/trash');
  const row = (i) => [
    i.name,
    badge(i.kind),
    i.kind === 'secret' ? i.projectName : '',
    i.deletedByName || mono(i.deletedBy || 'unknown'),
    when(i.deletedAt),
    when(i.purgeAfter),
    idCell(i.id, `id of ${i.name}`),
    // Restoring a secret takes a writer, a project or any purge an administrator: nobody is
    // offered a button the server would refuse (issue 16, bug 6).
    h('div', { class: 'actions' },
      !api.can(i.kind === 'secret' ? 'write_secrets' : 'manage_projects') ? null : action(`Restore ${i.name}`, async () => {
        await api.post(`/v1/admin/trash/${api.seg(i.id)}/restore`, {});
        await trashPage();
        announce(`Restored the ${i.kind} ${i.name}.`);
      }, { cls: 'small' }),
      !api.can('manage_projects') ? null : action(`Purge ${i.kind} ${i.name}`, async () => {
        await api.post(`/v1/admin/trash/${api.seg(i.id)}/purge`, {});
        await trashPage();
        announce(`Purged the ${i.kind} ${i.name}.`);
      }, {
        cls: 'small danger',
        // Purging cannot be undone: the person types the name, as for deleting a project.
        typeName: i.name,
        confirmText: `Purge the ${i.kind} ${i.name} for good? Its values and keys are destroyed and cannot be restored.`,
      })),
  ];
  screen('Trash',
    h('p', { class: 'muted' },
      `Deleted secrets and projects are kept for ${retentionDays} days, then purged. Machines cannot read them meanwhile.`),
    card('Deleted items', filteredTable({
      caption: 'Trash',
      label: 'Search the trash',
      headers: ['Name', 'Kind', 'Project', 'Deleted by', 'Deleted', 'Purged after', 'Id', 'Actions'],
      items,
      row,
      text: (i) => `${i.name} ${i.projectName || ''} ${i.deletedByName || ''} ${i.id}`,
      filters: [{ label: 'Kind', options: [['', 'All'], ['secret', 'Secrets'], ['project', 'Projects']], test: (i, v) => i.kind === v }],
      empty: 'The trash is empty.',
    })));
}
