import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AdminError, type EgressRuleRecord, type FieldError, type IngressRuleRecord } from '@mesher/contracts';
import type { EdgeRuleKind, EdgeRuleOf } from '@mesher/persistence';
import { validateEgressRule, validateIngressRule } from '@mesher/registry';
import { checkIfMatch } from '../config-as-code/config.service';
import { RegistryService } from '../registry/registry.service';

const ID_RE = /^[A-Za-z0-9._:@-]{1,100}$/;

/** Ingress (edge) and egress rules: validated whole, stored, then the snapshot is rebuilt. */
@Injectable()
export class EdgeRulesService {
  constructor(private readonly registry: RegistryService) {}

  list<K extends EdgeRuleKind>(kind: K): Promise<EdgeRuleOf<K>[]> {
    return this.registry.store.listEdgeRules(kind);
  }

  async get<K extends EdgeRuleKind>(kind: K, id: string): Promise<EdgeRuleOf<K>> {
    const r = await this.registry.store.getEdgeRule(kind, id);
    if (!r) throw new AdminError('NOT_FOUND', `no ${kind} rule with id '${id}'`);
    return r;
  }

  async put<K extends EdgeRuleKind>(kind: K, id: string | null, body: unknown, actor: string, ifMatch?: string): Promise<EdgeRuleOf<K>> {
    const rule = await this.toRule(kind, id ?? undefined, body);
    if (id && ifMatch) checkIfMatch(ifMatch, await this.get(kind, id), `${kind} rule '${id}'`);
    const out = await this.registry.store.putEdgeRule(kind, rule, actor, id !== null);
    await this.registry.refresh();
    return out;
  }

  async remove(kind: EdgeRuleKind, id: string, actor: string): Promise<void> {
    await this.registry.store.deleteEdgeRule(kind, id, actor);
    await this.registry.refresh();
  }

  private async toRule<K extends EdgeRuleKind>(kind: K, pathId: string | undefined, body: unknown): Promise<EdgeRuleOf<K>> {
    const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    const { id: bodyId, ...rest } = b;
    const errors: FieldError[] = kind === 'ingress' ? validateIngressRule(body === b ? rest : body) : validateEgressRule(body === b ? rest : body);
    const id = pathId ?? bodyId ?? randomUUID();
    if (typeof id !== 'string' || !ID_RE.test(id)) errors.push({ field: 'id', message: 'id must be 1-100 characters of letters, digits, . _ : @ -' });
    if (pathId && bodyId !== undefined && bodyId !== pathId) errors.push({ field: 'id', message: `id in the body ('${String(bodyId)}') differs from the path ('${pathId}')` });
    if (kind === 'ingress' && typeof rest.service === 'string' && !(await this.registry.store.getService(rest.service))) {
      errors.push({ field: 'service', message: `service '${rest.service}' is not a registered service` });
    }
    if (errors.length) throw new AdminError('INVALID', errors.map((e) => e.message).join('; '), errors);
    if (kind === 'ingress') {
      const r: IngressRuleRecord = {
        id: id as string,
        host: (rest.host as string | undefined)?.toLowerCase() ?? null,
        pathPrefix: (rest.pathPrefix as string | undefined) ?? null,
        pathRegex: (rest.pathRegex as string | undefined) ?? null,
        rewritePath: (rest.rewritePath as string | undefined) ?? null,
        service: rest.service as string,
        port: (rest.port as number | undefined) ?? null,
      };
      return r as EdgeRuleOf<K>;
    }
    const r: EgressRuleRecord = {
      id: id as string,
      host: (rest.host as string).toLowerCase(),
      ports: (rest.ports as number[] | undefined) ?? [80, 443],
      tls: (rest.tls as boolean | undefined) ?? false,
      policy: (rest.policy as EgressRuleRecord['policy']) ?? null,
    };
    return r as EdgeRuleOf<K>;
  }
}
