import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { InstanceStatus } from '@mesher/contracts';

@Entity('instance')
@Index(['service'])
export class InstanceEntity {
  @PrimaryColumn({ type: 'varchar' })
  id: string;

  @Column({ type: 'varchar' })
  service: string;

  @Column({ type: 'varchar' })
  version: string;

  @Column({ type: 'varchar' })
  endpoint: string;

  @Column({ type: 'simple-json' })
  labels: Record<string, string>;

  @Column({ type: 'integer' })
  weight: number;

  @Column({ type: 'varchar' })
  status: InstanceStatus;

  @Column({ type: 'varchar' })
  registeredBy: string;

  @Column({ type: 'integer' })
  lastHeartbeat: number;

  @Column({ type: 'integer' })
  ttl: number;

  @Column({ type: 'integer' })
  createdAt: number;
}
