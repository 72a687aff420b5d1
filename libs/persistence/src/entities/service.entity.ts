import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity('service')
export class ServiceEntity {
  @PrimaryColumn({ type: 'varchar' })
  name: string;

  @Column({ type: 'varchar', nullable: true })
  app: string | null;

  @Column({ type: 'varchar', nullable: true })
  description: string | null;

  @Column({ type: 'integer' })
  createdAt: number;
}
