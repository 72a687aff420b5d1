import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One row per configuration write: the revision number is the id. */
@Entity('revision')
export class RevisionEntity {
  @PrimaryGeneratedColumn({ type: 'integer' })
  id: number;

  @Column({ type: 'integer' })
  at: number;

  @Column({ type: 'varchar' })
  actor: string;

  @Column({ type: 'varchar' })
  summary: string;

  @Column({ type: 'simple-json', nullable: true })
  diff: unknown;
}
