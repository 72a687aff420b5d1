import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One minute of one edge's traffic, for history charts without Prometheus. */
@Entity('traffic_rollup')
@Index(['destination', 'minute'])
export class TrafficRollupEntity {
  @PrimaryColumn({ type: 'integer' })
  minute: number;

  @PrimaryColumn({ type: 'varchar' })
  source: string;

  @PrimaryColumn({ type: 'varchar' })
  destination: string;

  @Column({ type: 'integer' })
  requests: number;

  @Column({ type: 'integer' })
  errors: number;

  @Column({ type: 'real' })
  p50: number;

  @Column({ type: 'real' })
  p90: number;

  @Column({ type: 'real' })
  p99: number;

  @Column({ type: 'real' })
  sumMs: number;
}
