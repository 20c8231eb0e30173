-- CreateEnum
CREATE TYPE "ApiKeyScope" AS ENUM ('read', 'write');

-- CreateEnum
CREATE TYPE "Channel" AS ENUM ('whatsapp', 'sms', 'email', 'web');

-- CreateEnum
CREATE TYPE "FlowRunStatus" AS ENUM ('queued', 'running', 'finished', 'timeout', 'cancelled', 'exception');

-- CreateTable
CREATE TABLE "Organization" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Organization_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "hash" TEXT NOT NULL,
    "scope" "ApiKeyScope" NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Flow" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "reminderInterval" INTEGER,
    "reminderMessage" TEXT,
    "sessionTimeout" INTEGER NOT NULL DEFAULT 1440,
    "publishedAt" TIMESTAMPTZ(3),
    "unpublishedChanges" BOOLEAN NOT NULL DEFAULT false,
    "flowGenerationId" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Flow_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "MessageThread" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "channel" "Channel" NOT NULL,
    "identifier" TEXT NOT NULL,
    "candidateId" UUID,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MessageThread_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "FlowRun" (
    "id" UUID NOT NULL,
    "organizationId" UUID NOT NULL,
    "flowId" UUID NOT NULL,
    "messageThreadId" UUID NOT NULL,
    "state" JSONB NOT NULL DEFAULT '{}',
    "initialMessage" JSONB NOT NULL DEFAULT '{}',
    "status" "FlowRunStatus" NOT NULL,
    "cost" INTEGER NOT NULL DEFAULT 0,
    "sequence" BIGSERIAL NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "FlowRun_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- CreateIndex
CREATE INDEX "ApiKey_organizationId_idx" ON "ApiKey"("organizationId");

-- CreateIndex
CREATE INDEX "Flow_organizationId_createdAt_id_idx" ON "Flow"("organizationId", "createdAt" DESC, "id");

-- CreateIndex
CREATE INDEX "MessageThread_organizationId_createdAt_id_idx" ON "MessageThread"("organizationId", "createdAt" DESC, "id");

-- CreateIndex
CREATE UNIQUE INDEX "MessageThread_organizationId_channel_identifier_key" ON "MessageThread"("organizationId", "channel", "identifier");

-- CreateIndex
CREATE INDEX "FlowRun_organizationId_createdAt_id_idx" ON "FlowRun"("organizationId", "createdAt" DESC, "id");

-- CreateIndex
CREATE INDEX "FlowRun_organizationId_flowId_createdAt_idx" ON "FlowRun"("organizationId", "flowId", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "FlowRun_organizationId_status_createdAt_idx" ON "FlowRun"("organizationId", "status", "createdAt" DESC);

-- CreateIndex
CREATE INDEX "FlowRun_messageThreadId_status_sequence_idx" ON "FlowRun"("messageThreadId", "status", "sequence");

-- CreateIndex
CREATE UNIQUE INDEX "FlowRun_one_running_per_thread" ON "FlowRun"("messageThreadId") WHERE (status = 'running');

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Flow" ADD CONSTRAINT "Flow_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MessageThread" ADD CONSTRAINT "MessageThread_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FlowRun" ADD CONSTRAINT "FlowRun_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FlowRun" ADD CONSTRAINT "FlowRun_flowId_fkey" FOREIGN KEY ("flowId") REFERENCES "Flow"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FlowRun" ADD CONSTRAINT "FlowRun_messageThreadId_fkey" FOREIGN KEY ("messageThreadId") REFERENCES "MessageThread"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- Not expressible in schema.prisma: credits are never negative (SPEC rule 7).
ALTER TABLE "FlowRun" ADD CONSTRAINT "FlowRun_cost_not_negative" CHECK ("cost" >= 0);
