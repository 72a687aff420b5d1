import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { ConfigDelta, MeshConfig } from '@mesher/contracts';

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

  /**
   * The whole configuration after this revision: kept only where a chain of deltas starts (the first revision,
   * a config apply or rollback); null for other revisions and for those written before it was kept.
   */
  @Column({ type: 'simple-json', nullable: true })
  config: MeshConfig | null;

  /** The services this revision touched, as they were after it: the config is the previous one with these applied. */
  @Column({ type: 'simple-json', nullable: true })
  changes: ConfigDelta | null;
}
