-- CreateIndex
CREATE INDEX "WebhookDelivery_due_per_endpoint" ON "WebhookDelivery"("endpointId", "nextAttemptAt", "sequence") WHERE (status = 'pending');
