import { Injectable } from '@nestjs/common';
import { AdminError, type InstanceRecord, type ServiceRecord } from '@mesher/contracts';
import type { InstancePatch, NewInstance } from '@mesher/persistence';
import { checkIfMatch } from '../config-as-code/config.service';
import { RegistryService } from '../registry/registry.service';

export interface ServiceSummary extends ServiceRecord {
  instances: { total: number; up: number; down: number; draining: number };
  versions: string[];
}

/** Services and their instances: writes go to the store, then the snapshot is rebuilt before answering. */
@Injectable()
export class ServicesService {
  constructor(private readonly registry: RegistryService) {}

  private get store() {
    return this.registry.store;
  }

  /** From the registry in memory: a full read of a large store on every dashboard poll would stall the proxy. */
  async list(): Promise<ServiceSummary[]> {
    return [...this.registry.serviceSources()].sort((a, b) => a.record.name.localeCompare(b.record.name)).map((s) => summarize(s.record, s.instances));
  }

  async get(name: string): Promise<ServiceSummary & { instanceList: InstanceRecord[] }> {
    const svc = await this.store.getService(name);
    if (!svc) throw new AdminError('NOT_FOUND', `no service named '${name}'`);
    const instances = await this.store.listInstances(name);
    return { ...summarize(svc, instances), instanceList: instances };
  }

  async create(rec: ServiceRecord, actor: string): Promise<ServiceRecord> {
    const out = await this.store.createService(rec, actor);
    await this.registry.refresh();
    return out;
  }

  async remove(name: string, actor: string): Promise<void> {
    await this.store.deleteService(name, actor);
    await this.registry.refresh();
  }

  listInstances(service: string): Promise<InstanceRecord[]> {
    return this.store.listInstances(service);
  }

  async getInstance(service: string, id: string): Promise<InstanceRecord> {
    const inst = await this.store.getInstance(service, id);
    if (!inst) throw new AdminError('NOT_FOUND', `service '${service}' has no instance with id '${id}'`);
    return inst;
  }

  async register(service: string, input: NewInstance, actor: string): Promise<InstanceRecord> {
    if (!/^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/.test(service)) {
      throw new AdminError('INVALID', `'${service}' is not a valid service name`, [
        { field: 'name', message: "service name must be lower-case letters, digits, '-', '_' or '.' (1-63 characters)" },
      ]);
    }
    const out = await this.store.registerInstance(service, input, actor);
    await this.registry.refresh();
    return out;
  }

  async update(service: string, id: string, patch: InstancePatch, actor: string, ifMatch?: string): Promise<InstanceRecord> {
    if (ifMatch) checkIfMatch(ifMatch, await this.getInstance(service, id), `instance '${id}'`);
    const out = await this.store.updateInstance(service, id, patch, actor);
    await this.registry.refresh();
    return out;
  }

  async removeInstance(service: string, id: string, actor: string): Promise<void> {
    await this.store.deleteInstance(service, id, actor);
    await this.registry.refresh();
  }

  async heartbeat(service: string, id: string): Promise<InstanceRecord> {
    const out = await this.store.heartbeat(service, id);
    await this.registry.refresh();
    return out;
  }
}

function summarize(s: ServiceRecord, instances: InstanceRecord[]): ServiceSummary {
  const count = (st: string) => instances.filter((i) => i.status === st).length;
  return {
    ...s,
    instances: { total: instances.length, up: count('UP'), down: count('DOWN'), draining: count('DRAINING') },
    versions: [...new Set(instances.map((i) => i.version))].sort(),
  };
}
