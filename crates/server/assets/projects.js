// Projects group secrets; machines are attached to projects.

import * as api from './api.js';
import { h, screen, card, when, field, form, announce, action, badge, filteredTable, idCell } from './page.js';

export async function projectsPage() {
  const { projects = [] } = await api.get('/v1/admin/projects');
  const create = form('inline', [
    field('New project name', { name: 'name', required: true, autocomplete: 'off', id: 'project-name' }),
  ], 'Create project', async (v, f) => {
    const p = await api.post('/v1/admin/projects', { name: v.name.trim() });
    f.reset();
    await projectsPage();
    announce(`Project ${p.name} created.`);
  });
  screen('Projects',
    api.can('manage_projects') ? card('Create a project', create) : null,
    card('All projects', filteredTable({
      caption: 'Projects',
      label: 'Search projects',
      headers: ['Name', 'Id', 'Created', 'Actions'],
      items: projects,
      text: (p) => `${p.name} ${p.id}`,
      row: (p) => [h('span', null, p.name, p.frozenAt ? [' ', badge('frozen', 'bad')] : null), idCell(p.id, `id of ${p.name}`), when(p.createdAt),
        h('div', { class: 'actions' },
          h('a', { href: `#/secrets/${encodeURIComponent(p.id)}` }, `Secrets of ${p.name}`),
          api.can('manage_projects') ? action(`Delete project ${p.name}`, async () => {
            await api.post(`/v1/admin/projects/${api.seg(p.id)}/delete`, {});
            await projectsPage();
            announce(`Project ${p.name} moved to the trash.`);
          }, { cls: 'small danger', typeName: p.name, confirmText: `Delete the project ${p.name} and every secret in it? Machines will no longer read them; it stays in the trash until purged.` }) : null)],
      empty: 'No projects yet. Create one to hold secrets.',
    })));
}
