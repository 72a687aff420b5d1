import { AdminError, type InstanceRecord } from '@mesher/contracts';
import type { NewInstance } from './registry-store';

/** A stored instance row: the record plus when it was first registered. */
export type InstanceRow = InstanceRecord & { createdAt: number };

/**
 * The registration rule every store applies: an id belongs to one service, an endpoint is registered once
 * per service, and absent fields take their defaults. Throws CONFLICT naming the field.
 */
export function instanceRowFor(
  service: string,
  id: string,
  input: NewInstance,
  actor: string,
  now: number,
  existing: { service: string; createdAt: number } | null,
  sameEndpoint: { id: string } | null,
): InstanceRow {
  if (existing && existing.service !== service) {
    throw new AdminError('CONFLICT', `instance id '${id}' belongs to service '${existing.service}'`, [{ field: 'id', message: 'id is taken' }]);
  }
  if (sameEndpoint && sameEndpoint.id !== id) {
    throw new AdminError('CONFLICT', `service '${service}' already has an instance at ${input.endpoint} (id ${sameEndpoint.id})`, [
      { field: 'endpoint', message: `endpoint ${input.endpoint} is already registered` },
    ]);
  }
  return {
    id,
    service,
    version: input.version ?? '0.0.0',
    endpoint: input.endpoint,
    labels: input.labels ?? {},
    weight: input.weight ?? 100,
    status: input.status ?? 'UP',
    registeredBy: input.registeredBy ?? actor,
    lastHeartbeat: now,
    ttl: input.ttl ?? 0,
    createdAt: existing?.createdAt ?? now,
  };
}
