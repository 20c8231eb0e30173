-- CreateIndex
CREATE INDEX "Flow_organizationId_name_idx" ON "Flow"("organizationId", "name");

-- CreateIndex
CREATE INDEX "FlowRun_organizationId_updatedAt_id_idx" ON "FlowRun"("organizationId", "updatedAt", "id");
