import type { MigrationInterface, QueryRunner } from 'typeorm';

export class TrafficRollup1764000000001 implements MigrationInterface {
  name = 'TrafficRollup1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "traffic_rollup" ("minute" integer NOT NULL, "source" varchar NOT NULL, "destination" varchar NOT NULL, ` +
        `"requests" integer NOT NULL, "errors" integer NOT NULL, "p50" real NOT NULL, "p90" real NOT NULL, "p99" real NOT NULL, "sumMs" real NOT NULL, ` +
        `PRIMARY KEY ("minute", "source", "destination"))`,
    );
    await q.query(`CREATE INDEX "IDX_traffic_rollup_destination_minute" ON "traffic_rollup" ("destination", "minute")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "traffic_rollup"`);
  }
}
