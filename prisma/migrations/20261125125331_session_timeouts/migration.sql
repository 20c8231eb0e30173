-- AlterTable
ALTER TABLE "FlowRun" ADD COLUMN     "expiresAt" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "FlowRun_running_expiry" ON "FlowRun"("expiresAt") WHERE (status = 'running');
