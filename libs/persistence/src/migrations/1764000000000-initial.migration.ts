import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1764000000000 implements MigrationInterface {
  name = 'Initial1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "service" ("name" varchar PRIMARY KEY NOT NULL, "app" varchar, "description" varchar, "createdAt" integer NOT NULL)`);
    await q.query(
      `CREATE TABLE "instance" ("id" varchar PRIMARY KEY NOT NULL, "service" varchar NOT NULL REFERENCES "service"("name") ON DELETE CASCADE, ` +
        `"version" varchar NOT NULL, "endpoint" varchar NOT NULL, "labels" text NOT NULL, "weight" integer NOT NULL, "status" varchar NOT NULL, ` +
        `"registeredBy" varchar NOT NULL, "lastHeartbeat" integer NOT NULL, "ttl" integer NOT NULL, "createdAt" integer NOT NULL)`,
    );
    await q.query(`CREATE INDEX "IDX_instance_service" ON "instance" ("service")`);
    await q.query(
      `CREATE TABLE "route_rule" ("id" varchar PRIMARY KEY NOT NULL, "service" varchar NOT NULL REFERENCES "service"("name") ON DELETE CASCADE, ` +
        `"precedence" integer NOT NULL, "match" text, "route" text NOT NULL, "policy" text, "createdAt" integer NOT NULL)`,
    );
    await q.query(`CREATE INDEX "IDX_route_rule_service" ON "route_rule" ("service")`);
    await q.query(
      `CREATE TABLE "policy" ("service" varchar PRIMARY KEY NOT NULL REFERENCES "service"("name") ON DELETE CASCADE, "spec" text NOT NULL, "updatedAt" integer NOT NULL)`,
    );
    await q.query(
      `CREATE TABLE "revision" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "at" integer NOT NULL, "actor" varchar NOT NULL, "summary" varchar NOT NULL, "diff" text)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['revision', 'policy', 'route_rule', 'instance', 'service']) await q.query(`DROP TABLE "${t}"`);
  }
}
