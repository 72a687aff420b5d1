export * from './data-source';
export * from './registry-store';
export * from './sqlite-registry.store';
export * from './entities/service.entity';
export * from './entities/instance.entity';
export * from './entities/route-rule.entity';
export * from './entities/policy.entity';
export * from './entities/revision.entity';
