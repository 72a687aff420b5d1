import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { PolicySpec } from '@mesher/contracts';

@Entity('egress_rule')
export class EgressRuleEntity {
  @PrimaryColumn({ type: 'varchar' })
  id: string;

  @Column({ type: 'varchar' })
  host: string;

  @Column({ type: 'simple-json' })
  ports: number[];

  @Column({ type: 'boolean' })
  tls: boolean;

  @Column({ type: 'simple-json', nullable: true })
  policy: PolicySpec | null;

  @Column({ type: 'integer' })
  createdAt: number;
}
