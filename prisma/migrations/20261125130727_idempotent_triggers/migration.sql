-- CreateTable
CREATE TABLE "IdempotentTrigger" (
    "organizationId" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "flowRunId" UUID NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "IdempotentTrigger_pkey" PRIMARY KEY ("organizationId","key")
);

-- CreateIndex
CREATE INDEX "IdempotentTrigger_createdAt_idx" ON "IdempotentTrigger"("createdAt");

-- AddForeignKey
ALTER TABLE "IdempotentTrigger" ADD CONSTRAINT "IdempotentTrigger_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;
