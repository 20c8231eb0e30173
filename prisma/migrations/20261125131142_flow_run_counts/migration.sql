-- CreateTable
CREATE TABLE "FlowRunCount" (
    "organizationId" UUID NOT NULL,
    "shard" INTEGER NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "FlowRunCount_pkey" PRIMARY KEY ("organizationId","shard")
);

-- AddForeignKey
ALTER TABLE "FlowRunCount" ADD CONSTRAINT "FlowRunCount_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Not expressible in schema.prisma: the trigger that keeps FlowRunCount, whoever writes
-- FlowRun (the service, a bulk import, a manual fix). A run counts in the shard its id
-- hashes to, so its insert and its delete touch the same row.
CREATE FUNCTION "flow_run_count"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO "FlowRunCount" ("organizationId", "shard", "count")
    VALUES (NEW."organizationId", hashtext(NEW."id"::text) & 7, 1)
    ON CONFLICT ("organizationId", "shard") DO UPDATE SET "count" = "FlowRunCount"."count" + 1;
    RETURN NEW;
  END IF;
  UPDATE "FlowRunCount" SET "count" = "count" - 1
  WHERE "organizationId" = OLD."organizationId" AND "shard" = hashtext(OLD."id"::text) & 7;
  RETURN OLD;
END $$;

CREATE TRIGGER "flow_run_count" AFTER INSERT OR DELETE ON "FlowRun"
FOR EACH ROW EXECUTE FUNCTION "flow_run_count"();

-- Runs that existed before this migration.
INSERT INTO "FlowRunCount" ("organizationId", "shard", "count")
SELECT "organizationId", hashtext("id"::text) & 7, count(*) FROM "FlowRun" GROUP BY 1, 2;
