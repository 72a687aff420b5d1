import type { MigrationInterface, QueryRunner } from 'typeorm';

export class EdgeRules1764000000003 implements MigrationInterface {
  name = 'EdgeRules1764000000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "ingress_rule" ("id" varchar PRIMARY KEY NOT NULL, "host" varchar, "pathPrefix" varchar, "pathRegex" varchar, ` +
        `"rewritePath" varchar, "service" varchar NOT NULL, "port" integer, "createdAt" integer NOT NULL)`,
    );
    await q.query(
      `CREATE TABLE "egress_rule" ("id" varchar PRIMARY KEY NOT NULL, "host" varchar NOT NULL, "ports" text NOT NULL, "tls" boolean NOT NULL, ` +
        `"policy" text, "createdAt" integer NOT NULL)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "egress_rule"`);
    await q.query(`DROP TABLE "ingress_rule"`);
  }
}
