import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { PolicySpec, RouteMatch, RouteTarget } from '@mesher/contracts';

@Entity('route_rule')
@Index(['service'])
export class RouteRuleEntity {
  @PrimaryColumn({ type: 'varchar' })
  id: string;

  @Column({ type: 'varchar' })
  service: string;

  @Column({ type: 'integer' })
  precedence: number;

  @Column({ type: 'simple-json', nullable: true })
  match: RouteMatch | null;

  @Column({ type: 'simple-json' })
  route: RouteTarget[];

  @Column({ type: 'simple-json', nullable: true })
  policy: PolicySpec | null;

  @Column({ type: 'integer' })
  createdAt: number;
}
