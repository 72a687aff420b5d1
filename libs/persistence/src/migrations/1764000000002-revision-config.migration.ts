import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Each revision keeps the whole configuration after it, so any revision can be diffed and restored. */
export class RevisionConfig1764000000002 implements MigrationInterface {
  name = 'RevisionConfig1764000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "revision" ADD COLUMN "config" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "revision" DROP COLUMN "config"`);
  }
}
