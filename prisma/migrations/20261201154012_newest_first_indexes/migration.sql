-- DropIndex
DROP INDEX "Flow_organizationId_createdAt_id_idx";

-- DropIndex
DROP INDEX "FlowRun_organizationId_createdAt_id_idx";

-- DropIndex
DROP INDEX "MessageThread_organizationId_createdAt_id_idx";

-- CreateIndex
CREATE INDEX "Flow_organizationId_createdAt_id_idx" ON "Flow"("organizationId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "FlowRun_organizationId_createdAt_id_idx" ON "FlowRun"("organizationId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "MessageThread_organizationId_createdAt_id_idx" ON "MessageThread"("organizationId", "createdAt" DESC, "id" DESC);
