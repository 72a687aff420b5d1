import { Injectable } from '@nestjs/common';
import { AdminError, type RouteRuleRecord } from '@mesher/contracts';
import type { NewRouteRule } from '@mesher/persistence';
import { validateRouteRule } from '@mesher/registry';
import { checkIfMatch } from '../config-as-code/config.service';
import { RegistryService } from '../registry/registry.service';

/** Route rules: validated whole before anything is stored, then the snapshot is rebuilt. */
@Injectable()
export class RoutesService {
  constructor(private readonly registry: RegistryService) {}

  list(service?: string): Promise<RouteRuleRecord[]> {
    return this.registry.store.listRoutes(service);
  }

  async get(id: string): Promise<RouteRuleRecord> {
    const r = await this.registry.store.getRoute(id);
    if (!r) throw new AdminError('NOT_FOUND', `no route with id '${id}'`);
    return r;
  }

  async create(body: unknown, actor: string): Promise<RouteRuleRecord> {
    const rule = toRule(body);
    const out = await this.registry.store.createRoute(rule, actor);
    await this.registry.refresh();
    return out;
  }

  async replace(id: string, body: unknown, actor: string, ifMatch?: string): Promise<RouteRuleRecord> {
    const rule = toRule(body);
    if (ifMatch) checkIfMatch(ifMatch, await this.get(id), `route '${id}'`);
    const out = await this.registry.store.replaceRoute(id, rule, actor);
    await this.registry.refresh();
    return out;
  }

  async remove(id: string, actor: string, ifMatch?: string): Promise<void> {
    if (ifMatch) checkIfMatch(ifMatch, await this.get(id), `route '${id}'`);
    await this.registry.store.deleteRoute(id, actor);
    await this.registry.refresh();
  }

  /** Replaces the rules of each named service, all or nothing (ServiceComb routeRule import). */
  async replaceForServices(rules: Map<string, unknown[]>, actor: string): Promise<RouteRuleRecord[]> {
    const checked = new Map<string, NewRouteRule[]>();
    for (const [service, list] of rules) {
      checked.set(
        service,
        list.map((r, i) => {
          try {
            return toRule({ ...(r as object), service });
          } catch (e) {
            if (e instanceof AdminError) {
              const prefix = `routeRule.${service}[${i}].`;
              throw new AdminError(
                'INVALID',
                `invalid rule ${i} of '${service}': ${e.message}`,
                e.errors.map((x) => ({ field: prefix + x.field, message: x.message })),
              );
            }
            throw e;
          }
        }),
      );
    }
    const out = await this.registry.store.replaceServiceRoutes(checked, actor);
    await this.registry.refresh();
    return out;
  }
}

function toRule(body: unknown): NewRouteRule & Omit<RouteRuleRecord, 'id'> {
  const errors = validateRouteRule(body);
  if (errors.length) throw new AdminError('INVALID', errors.map((e) => e.message).join('; '), errors);
  const b = body as RouteRuleRecord;
  return { service: b.service, precedence: b.precedence ?? 0, match: b.match ?? null, route: b.route, policy: b.policy ?? null };
}
