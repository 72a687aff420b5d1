import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { MeshConfig } from '@mesher/contracts';

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

  /** The whole configuration after this revision (null for revisions written before it was kept). */
  @Column({ type: 'simple-json', nullable: true })
  config: MeshConfig | null;
}
