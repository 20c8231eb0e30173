// The demo organization a fresh embedded database starts with, so that GraphiQL has
// something to show. It goes through the domain rules like any client would.
import type { Database } from './database/client.js';
import { triggerFlowRun, patchFlowRun } from './domain/flow-runs.js';
import { createFlow } from './domain/flows.js';
import { createMessageThread } from './domain/message-threads.js';
import { createApiKey, createAuthenticator, createOrganization } from './domain/organizations.js';

/** Seeds the demo organization when the database has no organization; returns its key. */
export async function seedDemoIfEmpty(db: Database): Promise<string | undefined> {
  if ((await db.prisma.organization.count()) > 0) return undefined;
  const organization = await createOrganization(db.prisma, 'Demo organization');
  const key = await createApiKey(db.prisma, organization.id, 'write');
  // The demo data is made with the demo key, as a client would make it.
  const tenant = await createAuthenticator(db).authenticate(key);
  const onboarding = await createFlow(tenant, {
    name: 'Onboarding',
    reminderInterval: 15,
    reminderMessage: 'Are you still there? There are still a few questions left to finish your application.',
    unpublishedChanges: true,
  });
  const screening = await createFlow(tenant, { name: 'Screening', sessionTimeout: 60 });
  const whatsapp = await createMessageThread(tenant, { channel: 'whatsapp', identifier: '31652071191' });
  const email = await createMessageThread(tenant, { channel: 'email', identifier: 'jane@example.com' });
  const web = await createMessageThread(tenant, { channel: 'web', identifier: 'visitor-42' });

  const template = {
    type: 'template',
    template: {
      id: '7f9a9715-5e7c-4328-ab47-bb9e595438c9',
      components: [{ type: 'body', parameters: [{ type: 'text', text: 'John' }] }],
    },
  };
  const { run: finished } = await triggerFlowRun(tenant, {
    flowId: onboarding.id,
    messageThreadId: whatsapp.id,
    state: { first_name: 'John' },
    initialMessage: template,
  });
  await patchFlowRun(tenant, finished.id, { status: 'finished' });
  await triggerFlowRun(tenant, { flowId: screening.id, messageThreadId: whatsapp.id, state: {}, initialMessage: template });
  await triggerFlowRun(tenant, { flowId: onboarding.id, messageThreadId: whatsapp.id, state: {}, initialMessage: {} });
  const { run: cancelled } = await triggerFlowRun(tenant, {
    flowId: screening.id,
    messageThreadId: email.id,
    state: {},
    initialMessage: { type: 'text', text: 'Hi Jane, a few questions about your application.' },
  });
  await patchFlowRun(tenant, cancelled.id, { status: 'cancelled' });
  await triggerFlowRun(tenant, { flowId: onboarding.id, messageThreadId: web.id, state: { scheduleId: 'intake' }, initialMessage: {} });
  return key;
}
