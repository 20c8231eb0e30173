-- AlterEnum
ALTER TYPE "WebhookDeliveryStatus" ADD VALUE 'dropped';
