import * as fs from 'node:fs';
import { yaml } from '../yaml-lazy';
import type { ConfigChange } from '@mesher/contracts';
import { AdminCallError, AdminClient } from './admin-client';

type Output = 'table' | 'json' | 'yaml';

interface CtlOptions {
  adminUrl: string;
  token: string | null;
  output: Output;
  file: string | null;
  dryRun: boolean;
  args: string[];
}

const USAGE = `Usage:
  mesher apply -f mesh.yaml [--dry-run]     apply a whole configuration (all or nothing)
  mesher export [-o yaml|json]              print the whole configuration
  mesher get services|routes|policies|revisions [-o table|json|yaml]
  mesher rollback <revision>                restore the configuration of a revision
Options: --admin-url (MESHER_ADMIN_URL, default http://127.0.0.1:30102), --token (MESHER_ADMIN_TOKEN)`;

export const CTL_COMMANDS = ['apply', 'export', 'get', 'rollback'];

function parse(argv: string[], env: NodeJS.ProcessEnv): CtlOptions {
  const o: CtlOptions = {
    adminUrl: env.MESHER_ADMIN_URL ?? 'http://127.0.0.1:30102',
    token: env.MESHER_ADMIN_TOKEN ?? null,
    output: 'table',
    file: null,
    dryRun: false,
    args: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new AdminCallError(`option ${a} needs a value`, 2);
      return argv[++i];
    };
    if (a === '--admin-url') o.adminUrl = next();
    else if (a === '--token') o.token = next();
    else if (a === '-o' || a === '--output') {
      const v = next();
      if (v !== 'table' && v !== 'json' && v !== 'yaml') throw new AdminCallError(`-o must be table, json or yaml (got '${v}')`, 2);
      o.output = v;
    } else if (a === '-f' || a === '--file') o.file = next();
    else if (a === '--dry-run') o.dryRun = true;
    else if (a.startsWith('-')) throw new AdminCallError(`unknown option ${a}\n${USAGE}`, 2);
    else o.args.push(a);
  }
  if (!/^https?:\/\/[^/]+/.test(o.adminUrl)) throw new AdminCallError(`--admin-url must be http(s)://host:port (got '${o.adminUrl}')`, 2);
  return o;
}

function table(rows: Array<Record<string, unknown>>, cols: string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(cols.map((c) => c.toUpperCase())), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

function show(data: unknown, output: Output, rows: () => string): string {
  if (output === 'json') return JSON.stringify(data, null, 2);
  if (output === 'yaml') return yaml().stringify(data).trimEnd();
  return rows();
}

function describeChanges(changes: ConfigChange[]): string {
  if (changes.length === 0) return 'no changes';
  return changes.map((c) => `${c.op === 'add' ? '+' : c.op === 'remove' ? '-' : '~'} ${c.kind} ${c.key}`).join('\n');
}

/** `mesher apply|export|get|rollback`; returns the exit code. */
export async function runCtl(cmd: string, argv: string[], env: NodeJS.ProcessEnv, out: (s: string) => void): Promise<number> {
  const o = parse(argv, env);
  const api = new AdminClient(o.adminUrl, o.token);
  switch (cmd) {
    case 'apply': {
      if (!o.file) throw new AdminCallError(`apply needs -f <file>\n${USAGE}`, 2);
      let text: string;
      try {
        text = fs.readFileSync(o.file, 'utf8');
      } catch (e) {
        throw new AdminCallError(`cannot read ${o.file}: ${(e as Error).message}`, 2);
      }
      const r = await api.json<{ applied: boolean; revision: number | null; changes: ConfigChange[] }>(
        'PUT',
        `/v1/config${o.dryRun ? '?dryRun=true' : ''}`,
        text,
        'application/yaml',
      );
      out(show(r, o.output, () => `${describeChanges(r.changes)}\n${o.dryRun ? 'dry run: nothing applied' : r.applied ? `applied as revision ${r.revision}` : 'already up to date'}`));
      return 0;
    }
    case 'export': {
      const fmt = o.output === 'json' ? 'json' : 'yaml';
      const r = await api.request('GET', `/v1/config?format=${fmt}`);
      if (r.status !== 200) throw new AdminCallError(`export failed (${r.status}): ${r.body}`, r.status);
      out(r.body.trimEnd());
      return 0;
    }
    case 'get': {
      const what = o.args[0];
      if (what === 'services') {
        const data = await api.json<Array<{ name: string; instances: { total: number; up: number }; versions: string[] }>>('GET', '/v1/services');
        out(show(data, o.output, () => table(data.map((s) => ({ name: s.name, up: s.instances.up, total: s.instances.total, versions: s.versions.join(',') })), ['name', 'up', 'total', 'versions'])));
      } else if (what === 'routes') {
        const data = await api.json<Array<{ id: string; service: string; precedence: number; match: unknown; route: Array<{ tags: Record<string, string>; weight: number }> }>>('GET', '/v1/routes');
        out(
          show(data, o.output, () =>
            table(
              data.map((r) => ({ id: r.id, service: r.service, precedence: r.precedence, match: r.match, route: r.route.map((t) => `${Object.values(t.tags).join('/')}:${t.weight}`).join(' ') })),
              ['id', 'service', 'precedence', 'match', 'route'],
            ),
          ),
        );
      } else if (what === 'policies') {
        const data = await api.json<Array<{ service: string; spec: Record<string, unknown> }>>('GET', '/v1/policies');
        out(show(data, o.output, () => table(data.map((p) => ({ service: p.service, sections: Object.keys(p.spec).join(','), spec: p.spec })), ['service', 'sections', 'spec'])));
      } else if (what === 'revisions') {
        const data = await api.json<{ items: Array<{ id: number; at: number; actor: string; summary: string }> }>('GET', '/v1/revisions');
        out(show(data.items, o.output, () => table(data.items.map((r) => ({ revision: r.id, at: new Date(r.at).toISOString(), actor: r.actor, summary: r.summary })), ['revision', 'at', 'actor', 'summary'])));
      } else throw new AdminCallError(`get needs one of services, routes, policies, revisions\n${USAGE}`, 2);
      return 0;
    }
    case 'rollback': {
      const rev = o.args[0];
      if (!rev || !/^\d+$/.test(rev)) throw new AdminCallError(`rollback needs a revision number\n${USAGE}`, 2);
      const r = await api.json<{ applied: boolean; revision: number | null; changes: ConfigChange[] }>('POST', `/v1/revisions/${rev}/rollback`);
      out(show(r, o.output, () => `${describeChanges(r.changes)}\n${r.applied ? `restored revision ${rev} as revision ${r.revision}` : 'already at that configuration'}`));
      return 0;
    }
  }
  throw new AdminCallError(USAGE, 2);
}
