import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AdminError, configOf, diffConfig, type ConfigChange, type MeshConfig } from '@mesher/contracts';
import { RegistryService } from '../registry/registry.service';
import { validateMeshConfig } from './mesh-config.validation';

export interface ApplyResult {
  dryRun: boolean;
  applied: boolean;
  revision: number | null;
  changes: ConfigChange[];
}

/** A short content hash: the version an object or document carries (ETag) for If-Match. */
export function versionOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** Optimistic concurrency: a write naming a version that is no longer current gets 412. */
export function checkIfMatch(ifMatch: string | undefined, current: unknown, what: string): void {
  if (!ifMatch || ifMatch.trim() === '*') return;
  const wanted = ifMatch.split(',').map((t) => t.trim().replace(/^W\//, '').replace(/"/g, ''));
  if (!wanted.includes(versionOf(current))) {
    throw new AdminError('PRECONDITION_FAILED', `${what} changed since you read it (If-Match does not match its ETag): read it again and retry`);
  }
}

/** Configuration as code: export, validate, diff and apply whole documents; revisions and rollback. */
@Injectable()
export class ConfigService {
  constructor(private readonly registry: RegistryService) {}

  private get store() {
    return this.registry.store;
  }

  async current(): Promise<MeshConfig> {
    return configOf(await this.store.loadState());
  }

  async apply(doc: unknown, actor: string, opts: { dryRun: boolean; ifMatch?: string }): Promise<ApplyResult> {
    const state = await this.store.loadState();
    const current = configOf(state);
    checkIfMatch(opts.ifMatch, current, 'the configuration');
    const sidecarServices = new Set(state.instances.filter((i) => i.registeredBy.startsWith('sidecar:')).map((i) => i.service));
    const { config, errors } = validateMeshConfig(doc, sidecarServices);
    if (errors.length) throw new AdminError('INVALID', `the configuration is invalid: ${errors.map((e) => e.message).join('; ')}`, errors);
    const changes = diffConfig(current, configOf(stateOf(config)));
    if (opts.dryRun || changes.length === 0) return { dryRun: opts.dryRun, applied: false, revision: null, changes };
    const revision = await this.store.replaceConfig(config, actor, `apply configuration (${changes.length} change${changes.length === 1 ? '' : 's'})`);
    await this.registry.refresh();
    return { dryRun: false, applied: revision !== null, revision, changes };
  }

  async revisions(offset: number, limit: number) {
    const page = await this.store.listRevisions(offset, limit);
    return { total: page.total, offset, limit, items: page.items.map(({ config: _c, ...r }) => r) };
  }

  async revision(id: number) {
    const r = await this.store.getRevision(id);
    if (!r) throw new AdminError('NOT_FOUND', `no revision ${id}`);
    return r;
  }

  async diff(a: number, b: number): Promise<{ from: number; to: number; changes: ConfigChange[] }> {
    const [ra, rb] = await Promise.all([this.revision(a), this.revision(b)]);
    if (!ra.config || !rb.config) throw new AdminError('INVALID', `revision ${!ra.config ? a : b} has no stored configuration to compare`);
    return { from: a, to: b, changes: diffConfig(ra.config, rb.config) };
  }

  /** Restores the configuration as it was at revision `id`, as a new revision. */
  async rollback(id: number, actor: string): Promise<ApplyResult> {
    const r = await this.revision(id);
    if (!r.config) throw new AdminError('INVALID', `revision ${id} has no stored configuration to restore`);
    const current = await this.current();
    const changes = diffConfig(current, r.config);
    if (changes.length === 0) return { dryRun: false, applied: false, revision: null, changes };
    const revision = await this.store.replaceConfig(r.config, actor, `rollback to revision ${id}`);
    await this.registry.refresh();
    return { dryRun: false, applied: revision !== null, revision, changes };
  }
}

function stateOf(c: MeshConfig) {
  return {
    services: c.services.map(({ instances: _i, ...s }) => s),
    instances: c.services.flatMap((s) => s.instances.map((i) => ({ ...i, service: s.name, registeredBy: 'api', lastHeartbeat: 0 }))),
    routes: c.routes,
    policies: Object.entries(c.policies).map(([service, spec]) => ({ service, spec })),
  };
}
