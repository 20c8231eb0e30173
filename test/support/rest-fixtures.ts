// Flows, threads and runs made through the JSON:API, as a client makes them; each helper
// checks the 201 so that a test fails where its setup did.
import { expect } from 'vitest';
import type { Channel } from '../../src/domain/flow-run-input.ts';
import type { App } from '../../src/http/app.ts';
import { type CallResult, call } from '../rest/support.ts';
import { uniqueIdentifier } from './fixtures.ts';

/** A new flow's id. */
export async function postFlow(app: App, key: string, name = 'Test flow'): Promise<string> {
  const response = await call(app, 'POST', '/public/v2/flows', { key, body: { data: { type: 'flows', attributes: { name } } } });
  expect(response.status, response.text).toBe(201);
  return response.json.data.id as string;
}

/** A new thread's id, with a unique identifier the channel accepts. */
export async function postThread(app: App, key: string, channel: Channel = 'web', prefix = 'visitor'): Promise<string> {
  const identifier = uniqueIdentifier(channel, prefix);
  const response = await call(app, 'POST', '/public/v2/message-threads', {
    key,
    body: { data: { type: 'messageThreads', attributes: { channel, identifier } } },
  });
  expect(response.status, response.text).toBe(201);
  return response.json.data.id as string;
}

/** The document that triggers a run (empty state and message unless given). */
export const runDocument = (flowId: string, messageThreadId: string, extra: Record<string, unknown> = {}) => ({
  data: { type: 'flowRuns', attributes: { flowId, messageThreadId, state: {}, initialMessage: {}, ...extra } },
});

/** POSTs a run; the response is the test's to check. */
export function postRun(
  app: App,
  key: string,
  flowId: string,
  messageThreadId: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<CallResult> {
  return call(app, 'POST', '/public/v2/flow-runs', { key, body: runDocument(flowId, messageThreadId, extra), headers });
}
