// The rows most tests need (an organization's tenant, a flow, a thread, a run) made through
// the domain functions, and the check of an expected domain error.
import { expect } from 'vitest';
import { DomainError, type ErrorCode, type InputPath } from '../../src/domain/errors.ts';
import type { Channel } from '../../src/domain/flow-run-input.ts';
import { type TriggerFlowRunInput, triggerFlowRun } from '../../src/domain/flow-runs.ts';
import { createFlow } from '../../src/domain/flows.ts';
import { createMessageThread } from '../../src/domain/message-threads.ts';
import { createAuthenticator } from '../../src/domain/organizations.ts';
import type { DomainServices, Tenant } from '../../src/domain/tenant.ts';
import { createTestTenant, type TestDatabase } from './database.ts';

/** A new organization with a write key, authenticated with the given services (a clock, a change sink...). */
export async function tenantWith(db: TestDatabase, services: Partial<DomainServices>, name?: string): Promise<{ tenant: Tenant; key: string }> {
  const { key } = await createTestTenant(db, 'write', name);
  return { tenant: await createAuthenticator(db, { services: services as DomainServices }).authenticate(key), key };
}

/** A new flow's id (the default session timeout unless given). */
export async function newFlow(tenant: Tenant, name = 'Test flow', sessionTimeout?: number): Promise<string> {
  return (await createFlow(tenant, { name, ...(sessionTimeout !== undefined && { sessionTimeout }) })).id;
}

let identifiers = 0;
/** An identifier the channel accepts (a phone number on WhatsApp and SMS, an address for email), unique within the test process. */
export function uniqueIdentifier(channel: Channel = 'web', prefix = 'thread'): string {
  identifiers += 1;
  switch (channel) {
    case 'whatsapp':
    case 'sms':
      return `3165${String(identifiers).padStart(7, '0')}`;
    case 'email':
      return `${prefix}${identifiers}@example.com`;
    case 'web':
      return `${prefix}-${identifiers}`;
  }
}

/** A new thread's id (a web thread unless given), with a unique identifier. */
export async function newThread(tenant: Tenant, prefix = 'thread', channel: Channel = 'web'): Promise<string> {
  return (await createMessageThread(tenant, { channel, identifier: uniqueIdentifier(channel, prefix) })).id;
}

/** Triggers a run (empty state and message unless given) and returns it. */
export async function triggerRun(tenant: Tenant, flowId: string, messageThreadId: string, extra: Partial<TriggerFlowRunInput> = {}) {
  return (await triggerFlowRun(tenant, { flowId, messageThreadId, state: {}, initialMessage: {}, ...extra })).run;
}

/** Awaits a promise that must fail with a DomainError of the given code (and path). */
export async function expectDomainError(promise: Promise<unknown>, code: ErrorCode, path?: InputPath): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected ${code}, but it succeeded`).toBeInstanceOf(DomainError);
  const domainError = error as DomainError;
  expect(domainError.code).toBe(code);
  if (path) expect(domainError.path).toEqual(path);
  return domainError;
}
