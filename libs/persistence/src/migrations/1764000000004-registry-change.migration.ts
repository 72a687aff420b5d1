import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Incremental reloads: every registry write appends what it touched to a short change log, so a reader
 * (this process after its own write, or another Mesher sharing the file) re-reads only those services.
 * Revisions may store the touched services' slices ("changes") instead of the whole configuration.
 */
export class RegistryChange1764000000004 implements MigrationInterface {
  name = 'RegistryChange1764000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "registry_change" ("seq" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "at" integer NOT NULL, "kind" varchar NOT NULL, ` +
        `"service" varchar, "instance" varchar, "beat" integer)`,
    );
    await q.query(`ALTER TABLE "revision" ADD COLUMN "changes" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "revision" DROP COLUMN "changes"`);
    await q.query(`DROP TABLE "registry_change"`);
  }
}
