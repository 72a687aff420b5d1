import type { InstanceRecord } from './model';

/**
 * An instance record for tests and benchmarks: UP, version 1.0.0, weight 100, registered through the API,
 * no TTL, at a loopback endpoint named after its id. `over` replaces any field.
 */
export function instanceRecord(service: string, id: string, over: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id,
    service,
    version: '1.0.0',
    endpoint: `http://127.0.0.1:9/${id}`,
    labels: {},
    weight: 100,
    status: 'UP',
    registeredBy: 'api',
    lastHeartbeat: 0,
    ttl: 0,
    ...over,
  };
}
