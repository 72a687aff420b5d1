import { Injectable } from '@nestjs/common';
import { AdminError, type PolicyRecord, type PolicySpec } from '@mesher/contracts';
import { DEFAULT_POLICY, mergePolicy, validatePolicySpec } from '@mesher/policies';
import { checkIfMatch } from '../config-as-code/config.service';
import { RegistryService } from '../registry/registry.service';

@Injectable()
export class PoliciesService {
  constructor(private readonly registry: RegistryService) {}

  list(): Promise<PolicyRecord[]> {
    return this.registry.store.listPolicies();
  }

  /** The stored policy and the effective one (defaults filled in). */
  async get(service: string): Promise<PolicyRecord & { effective: PolicySpec }> {
    if (!(await this.registry.store.getService(service))) throw new AdminError('NOT_FOUND', `no service named '${service}'`);
    const p = await this.registry.store.getPolicy(service);
    const spec = p?.spec ?? {};
    return { service, spec, effective: mergePolicy(DEFAULT_POLICY, spec) };
  }

  async put(service: string, body: unknown, actor: string, ifMatch?: string): Promise<PolicyRecord> {
    const errors = validatePolicySpec(body);
    if (errors.length) throw new AdminError('INVALID', errors.map((e) => e.message).join('; '), errors);
    if (ifMatch) checkIfMatch(ifMatch, (await this.get(service)).spec, `the policy of '${service}'`);
    const out = await this.registry.store.putPolicy(service, body as PolicySpec, actor);
    await this.registry.refresh();
    return out;
  }

  async remove(service: string, actor: string, ifMatch?: string): Promise<void> {
    if (ifMatch) checkIfMatch(ifMatch, (await this.get(service)).spec, `the policy of '${service}'`);
    await this.registry.store.deletePolicy(service, actor);
    await this.registry.refresh();
  }
}
