import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('ingress_rule')
export class IngressRuleEntity {
  @PrimaryColumn({ type: 'varchar' })
  id: string;

  @Column({ type: 'varchar', nullable: true })
  host: string | null;

  @Column({ type: 'varchar', nullable: true })
  pathPrefix: string | null;

  @Column({ type: 'varchar', nullable: true })
  pathRegex: string | null;

  @Column({ type: 'varchar', nullable: true })
  rewritePath: string | null;

  @Column({ type: 'varchar' })
  service: string;

  @Column({ type: 'integer', nullable: true })
  port: number | null;

  @Column({ type: 'integer' })
  createdAt: number;
}
