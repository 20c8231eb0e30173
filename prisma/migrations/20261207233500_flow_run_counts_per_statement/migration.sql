-- Not expressible in schema.prisma: FlowRunCount is kept by statement-level triggers
-- instead of a row-level one. A row trigger updates one of an organization's 8 count rows
-- once per run, so a statement that inserts or deletes many runs piles up versions of
-- those few rows within one transaction, and each further update costs more than the
-- last. Once per statement, grouped per (organization, shard), every count row is
-- written at most once per statement, however many runs it touches.
--
-- The service writes runs one row per statement (a trigger, a delete, an organization's
-- cascade): then the transition table holds that one row and the count moves by one, so
-- the counts stay exact for it as before; there is one code path for every writer.
--
-- The count rows are locked in (organizationId, shard) order, so that two concurrent
-- multi-row statements wait for each other instead of deadlocking.
DROP TRIGGER "flow_run_count" ON "FlowRun";
DROP FUNCTION "flow_run_count"();

CREATE FUNCTION "flow_run_count_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- ON CONFLICT locks (or inserts) the rows in the order the SELECT yields them.
  INSERT INTO "FlowRunCount" ("organizationId", "shard", "count")
  SELECT "organizationId", hashtext("id"::text) & 7, count(*)
  FROM "inserted_runs" GROUP BY 1, 2 ORDER BY 1, 2
  ON CONFLICT ("organizationId", "shard") DO UPDATE SET "count" = "FlowRunCount"."count" + EXCLUDED."count";
  RETURN NULL;
END $$;

CREATE FUNCTION "flow_run_count_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- An UPDATE, not an upsert: when an organization is deleted, its count rows may be gone
  -- (cascade) by the time this runs, and must not come back. Locking first, in order,
  -- because an UPDATE ... FROM visits rows in whatever order its join plan picks.
  PERFORM 1 FROM "FlowRunCount" AS c
  WHERE (c."organizationId", c."shard") IN (SELECT "organizationId", hashtext("id"::text) & 7 FROM "deleted_runs")
  ORDER BY c."organizationId", c."shard"
  FOR UPDATE OF c;
  UPDATE "FlowRunCount" AS c SET "count" = c."count" - d."runs"
  FROM (SELECT "organizationId", hashtext("id"::text) & 7 AS "shard", count(*) AS "runs" FROM "deleted_runs" GROUP BY 1, 2) AS d
  WHERE c."organizationId" = d."organizationId" AND c."shard" = d."shard";
  RETURN NULL;
END $$;

CREATE TRIGGER "flow_run_count_insert" AFTER INSERT ON "FlowRun"
REFERENCING NEW TABLE AS "inserted_runs"
FOR EACH STATEMENT EXECUTE FUNCTION "flow_run_count_insert"();

CREATE TRIGGER "flow_run_count_delete" AFTER DELETE ON "FlowRun"
REFERENCING OLD TABLE AS "deleted_runs"
FOR EACH STATEMENT EXECUTE FUNCTION "flow_run_count_delete"();
