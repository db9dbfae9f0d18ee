// Projects group secrets; machines are attached to projects.

import * as api from './api.js';
import { h, screen, card, table, when, mono, field, form, announce, action, badge } from './page.js';

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
    card('Create a project', create),
    card('All projects', table('Projects', ['Name', 'Id', 'Created', 'Actions'],
      projects.map((p) => [h('span', null, p.name, p.frozenAt ? [' ', badge('frozen', 'bad')] : null), mono(p.id), when(p.createdAt),
        h('div', { class: 'actions' },
          h('a', { href: `#/secrets/${encodeURIComponent(p.id)}` }, 'Secrets'),
          action('Delete', async () => {
            await api.post(`/v1/admin/projects/${api.seg(p.id)}/delete`, {});
            await projectsPage();
            announce(`Project ${p.name} moved to the trash.`);
          }, { cls: 'small danger', confirmText: `Delete the project ${p.name} and every secret in it? Machines will no longer read them; it stays in the trash until purged.` }))]),
      'No projects yet. Create one to hold secrets.')));
}
