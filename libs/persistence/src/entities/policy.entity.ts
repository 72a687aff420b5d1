import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { PolicySpec } from '@mesher/contracts';

@Entity('policy')
export class PolicyEntity {
  @PrimaryColumn({ type: 'varchar' })
  service: string;

  @Column({ type: 'simple-json' })
  spec: PolicySpec;

  @Column({ type: 'integer' })
  updatedAt: number;
}
