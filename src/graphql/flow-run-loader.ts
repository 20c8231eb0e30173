// `flowRun(id:)` fields read together: every such field resolved in the same tick — the
// aliases of one operation, and the operations of one batched HTTP request — becomes one
// statement, `WHERE "id" IN (…)` with the union of their selections
// (src/database/flow-run-reads.ts, `findByIds`).
//
// Where the loader lives: yoga builds one context per operation of a batched request, all
// with the same `request`, so loaders are kept per request (and per organization, though a
// request has one key), never longer: nothing is shared between requests or tenants.
// Without a request (the JSON:API adapter, which runs one operation per request) the
// context itself is the key. The loader does not remember answers (`cache: false`): it only
// gathers what is asked in one tick, so a read after a mutation in the same request sees
// the mutation.
//
// Subscriptions: every subscriber of an organization is handed the same change object by
// the bus (src/events/flow-run-change-bus.ts), so their payloads' `flowRun` fields key the
// loader to that change: one statement per change, however many subscriptions show it and
// whatever each selects. (Prisma batches `findUnique` of one shape by itself, but not
// different selections, and reads relations its slower way.)
import DataLoader from 'dataloader';
import type { FlowRun } from '../database/generated/prisma/client.js';
import type { FlowRunReads } from '../database/flow-run-reads.js';
import type { GraphQLContext } from './context.js';

/** One field's ask: a run, and what the field's selection needs of it (Pothos-Prisma's `select`). */
export interface RunAsk {
  id: string;
  select: Record<string, unknown>;
}

type Select = Record<string, unknown>;

const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * Adds `select` to `merged` when every key both name asks the same (`true` and `true`, or
 * equal nested selections); otherwise leaves `merged` alone and says no.
 */
function mergeSelect(merged: Select, select: Select): boolean {
  for (const [key, value] of Object.entries(select)) {
    if (value === undefined || value === false) continue;
    if (merged[key] !== undefined && !same(merged[key], value)) return false;
  }
  for (const [key, value] of Object.entries(select)) {
    if (value !== undefined && value !== false) merged[key] = value;
  }
  return true;
}

/**
 * Reads the asks in as few statements as their selections allow: one when they merge (the
 * GraphQL selections of runs do: scalar columns and `flow`/`messageThread` as `true`), one
 * more per selection that asks differently of a key (a nested selection with arguments).
 */
export async function loadRuns(reads: FlowRunReads, asks: readonly RunAsk[]): Promise<(FlowRun | null)[]> {
  const groups: { select: Select; ids: string[] }[] = [];
  const groupOf = asks.map((ask) => {
    let index = groups.findIndex((group) => mergeSelect(group.select, ask.select));
    if (index < 0) {
      index = groups.push({ select: { ...ask.select }, ids: [] }) - 1;
    }
    groups[index]?.ids.push(ask.id);
    return index;
  });
  const found = await Promise.all(groups.map((group) => reads.findByIds(group.ids, group.select)));
  return asks.map((ask, index) => found[groupOf[index] ?? -1]?.get(ask.id) ?? null);
}

export type FlowRunLoader = DataLoader<RunAsk, FlowRun | null>;

const loaders = new WeakMap<object, Map<string, FlowRunLoader>>();

/**
 * The loader of the request (or operation) this context belongs to, for its organization;
 * or of `scope` when given: a subscription payload passes the change it shows, so that the
 * subscriptions one change reaches (each its own request or WebSocket operation, all of the
 * change's organization) read the run together.
 */
export function flowRunLoader(context: GraphQLContext, scope: object = context.request ?? context): FlowRunLoader {
  let byOrganization = loaders.get(scope);
  if (!byOrganization) {
    byOrganization = new Map();
    loaders.set(scope, byOrganization);
  }
  const { organizationId, reads } = context.tenant;
  let loader = byOrganization.get(organizationId);
  if (!loader) {
    loader = new DataLoader((asks: readonly RunAsk[]) => loadRuns(reads.flowRuns, asks), { cache: false });
    byOrganization.set(organizationId, loader);
  }
  return loader;
}
