// FlowRun in GraphQL: the type, its queries and its mutations. Rules live in
// src/domain/flow-runs.ts; this file only translates arguments and results.
import { deleteFlowRun, patchFlowRun, triggerFlowRun, type TriggeredFlowRun } from '../../domain/flow-runs.js';
import { MAX_JSON_NESTING } from '../../domain/flow-run-input.js';
import { FLOW_RUN_STATUSES, TERMINAL_STATUSES } from '../../domain/flow-run-status.js';
import { effectiveStatus, effectiveStatusWhere } from '../../domain/flow-run-queue.js';
import { countAllFlowRuns } from '../../domain/flow-run-counts.js';
import { checkedTimestamp } from '../../domain/timestamps.js';
import { acceptingOnly } from '../accepted-values.js';
import { builder } from '../builder.js';
import { flowRunLoader } from '../flow-run-loader.js';
import { PAGE_SIZE } from '../limits.js';
import type { GraphQLContext } from '../context.js';
import { atMost, nodeConnection, offsetArgDescription, orderByArgument, orderByWithTieBreak, orderInput, skipOffset } from './lists.js';
import { mutationPayload, payloadField } from './payloads.js';

export const FlowRunStatus = builder.enumType('FlowRunStatus', { values: FLOW_RUN_STATUSES });

// Select mode, for the two JSON columns only: a run's light columns come with every run
// (the type's base selection) and resolve as plain properties, without the prisma
// plugin's per-field bookkeeping (which costs more than the columns when all are asked
// for); `state` and `initialMessage` are loaded only by a query that asks for them.
const FlowRun = builder.prismaObject('FlowRun', {
  description: 'One execution of a flow in a message thread.',
  select: { id: true, flowId: true, messageThreadId: true, status: true, expiresAt: true, cost: true, createdAt: true, updatedAt: true },
  fields: (t) => ({
    id: t.field({ type: 'UUID', resolve: (run) => run.id }),
    flowId: t.field({ type: 'UUID', resolve: (run) => run.flowId }),
    messageThreadId: t.field({ type: 'UUID', resolve: (run) => run.messageThreadId }),
    state: t.expose('state', { type: 'JSONObject', description: 'Session variables of the run.' }),
    initialMessage: t.expose('initialMessage', {
      type: 'JSONObject',
      description: 'The message sent when the run was triggered; {} for none.',
    }),
    status: t.field({
      type: FlowRunStatus,
      description: 'A running run past its session timeout reads as timeout, even before the sweeper ends it.',
      resolve: (run, _args, { tenant }) => effectiveStatus(run, tenant.clock.now()),
    }),
    cost: t.int({ description: 'Credits spent so far.', resolve: (run) => run.cost }),
    createdAt: t.field({ type: 'DateTime', resolve: (run) => run.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (run) => run.updatedAt }),
    flow: t.relation('flow'),
    messageThread: t.relation('messageThread'),
  }),
});

export const FlowRunFilter = builder.inputType('FlowRunFilter', {
  fields: (t) => ({
    flowId: t.field({ type: 'UUID', required: false }),
    messageThreadId: t.field({ type: 'UUID', required: false }),
    status: t.field({
      type: [FlowRunStatus],
      required: false,
      description: `Any of these statuses: at most ${FLOW_RUN_STATUSES.length} entries (a status named twice is asked for once).`,
      extensions: atMost(FLOW_RUN_STATUSES.length),
    }),
    updatedSince: t.field({
      type: 'DateTime',
      required: false,
      description: 'Runs whose updatedAt is at or after this time (inclusive), for polling: see docs/POLLING.md.',
    }),
  }),
});

export const FlowRunOrder = orderInput('FlowRun', ['createdAt', 'updatedAt', 'cost', 'status'] as const);

type Filter = typeof FlowRunFilter.$inferInput | null | undefined;
type Order = (typeof FlowRunOrder.$inferInput)[] | null | undefined;

export function flowRunWhere(filter: Filter, now: Date) {
  return {
    ...(filter?.flowId && { flowId: filter.flowId }),
    ...(filter?.messageThreadId && { messageThreadId: filter.messageThreadId }),
    ...(filter?.status?.length && effectiveStatusWhere(filter.status, now)),
    ...(filter?.updatedSince && { updatedAt: { gte: checkedTimestamp(filter.updatedSince, ['filter', 'updatedSince']) } }),
  };
}

// An unfiltered list's two totals are both the organization's run count, kept by the
// database (src/domain/flow-run-counts.ts): read it once per request.
const runCounts = new WeakMap<GraphQLContext, Promise<number>>();
function allRunsCount(context: GraphQLContext): Promise<number> {
  let count = runCounts.get(context);
  if (!count) {
    count = countAllFlowRuns(context.tenant);
    runCounts.set(context, count);
  }
  return count;
}

/** Every list of runs: the organization's, a flow's and a thread's. */
export const FlowRunConnection = nodeConnection('FlowRun', FlowRun, (t) => ({
  totalUnfilteredCount: t.int({
    description: 'All runs of the organization, whatever the filter.',
    resolve: (_connection, _args, context) => allRunsCount(context),
  }),
}));

export const flowRunOrderBy = (order: Order) => orderByWithTieBreak(order, { field: 'createdAt', direction: 'desc' });

const flowRunListArgs = builder.args((t) => ({
  filter: t.field({ type: FlowRunFilter }),
  orderBy: t.field({ type: [FlowRunOrder], ...orderByArgument(FlowRunOrder) }),
}));

/** `flowRuns` of a flow or a thread: the same paging, filters and order as the top-level list. */
export const relatedFlowRuns = {
  cursor: 'id',
  defaultSize: PAGE_SIZE.default,
  maxSize: PAGE_SIZE.max,
  totalCount: true,
  args: flowRunListArgs,
  query: ({ filter, orderBy }: { filter?: Filter; orderBy?: Order }, { tenant }: GraphQLContext) => ({
    where: flowRunWhere(filter, tenant.clock.now()),
    orderBy: flowRunOrderBy(orderBy),
  }),
} as const;

builder.queryFields((t) => ({
  flowRun: t.prismaField({
    type: 'FlowRun',
    nullable: true,
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: (query, _root, { id }, context) => flowRunLoader(context).load({ id, select: query.select ?? {} }),
  }),
  flowRuns: t.prismaConnection(
    {
      type: FlowRun,
      cursor: 'id',
      defaultSize: PAGE_SIZE.default,
      maxSize: PAGE_SIZE.max,
      args: {
        ...flowRunListArgs,
        offset: t.arg.int({ description: offsetArgDescription('runs') }),
      },
      totalCount: (_connection, { filter }, context) => {
        const where = flowRunWhere(filter, context.tenant.clock.now());
        return Object.keys(where).length ? context.tenant.db.flowRun.count({ where }) : allRunsCount(context);
      },
      resolve: (query, _root, args, { tenant }) =>
        tenant.reads.flowRuns.findMany({
          ...query,
          ...skipOffset(args),
          where: flowRunWhere(args.filter, tenant.clock.now()),
          orderBy: flowRunOrderBy(args.orderBy),
        }),
    },
    FlowRunConnection,
  ),
}));

const TriggerFlowRunInput = builder.inputType('TriggerFlowRunInput', {
  fields: (t) => ({
    flowId: t.field({ type: 'UUID', required: true }),
    messageThreadId: t.field({ type: 'UUID', required: true }),
    state: t.field({
      type: 'JSON',
      required: true,
      description: `A JSON object (or, for older clients, a string holding one), at most ${MAX_JSON_NESTING} levels deep.`,
    }),
    initialMessage: t.field({
      type: 'JSON',
      required: true,
      description:
        'The opening message: {} for none; a template on whatsapp; template or text elsewhere. ' + `At most ${MAX_JSON_NESTING} levels deep.`,
    }),
    idempotencyKey: t.string({
      required: false,
      description:
        'Up to 255 printable ASCII characters. For 24 hours a retry with the same key and the same input gets the run ' +
        'the first trigger created (replayed: true) instead of a new one; the same key with another input is ' +
        'refused (IDEMPOTENCY_KEY_REUSED). Keys are per organization. REST: the Idempotency-Key header.',
    }),
  }),
});

// The payloads' runs are prisma fields: the plugin takes the run the mutation wrote
// (every column) as loaded, instead of reading it again for the fields selected.
const TriggerFlowRunPayload = mutationPayload<TriggeredFlowRun>('TriggerFlowRun', {
  errors: ['VALIDATION_FAILED', 'REFERENCED_RESOURCE_NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENT_RUN_DELETED', 'CONCURRENT_CHANGE'],
  fields: (t) => ({
    flowRun: t.prismaField({ type: FlowRun, nullable: true, resolve: (_query, payload) => payload.run ?? null }),
    replayed: t.boolean({
      nullable: true,
      description: 'True when an earlier trigger with the same idempotencyKey created the run; nothing new was triggered.',
      resolve: (payload) => payload.replayed ?? null,
    }),
  }),
});

const PatchFlowRunInput = builder.inputType('PatchFlowRunInput', {
  fields: (t) => ({
    status: t.field({
      type: FlowRunStatus,
      required: false,
      description: 'A terminal status.',
      extensions: acceptingOnly(TERMINAL_STATUSES),
    }),
    state: t.field({
      type: 'JSON',
      required: false,
      description: `Replaces the whole state; not while running. At most ${MAX_JSON_NESTING} levels deep.`,
    }),
    initialMessage: t.field({
      type: 'JSON',
      required: false,
      description: 'Never accepted: the opening message can not be updated.',
    }),
  }),
});

type FlowRunRow = Awaited<ReturnType<typeof patchFlowRun>>;

const PatchFlowRunPayload = mutationPayload<{ flowRun: FlowRunRow }>('PatchFlowRun', {
  errors: ['NOT_FOUND', 'VALIDATION_FAILED', 'STATUS_NOT_SETTABLE', 'INITIAL_MESSAGE_IMMUTABLE', 'RUN_ALREADY_ENDED', 'STATE_LOCKED_WHILE_RUNNING'],
  fields: (t) => ({
    flowRun: t.prismaField({ type: FlowRun, nullable: true, resolve: (_query, payload) => payload.flowRun ?? null }),
  }),
});

const DeleteFlowRunPayload = mutationPayload<{ deletedId: string }>('DeleteFlowRun', {
  errors: ['NOT_FOUND'],
  fields: (t) => ({
    deletedId: t.field({ type: 'UUID', nullable: true, resolve: (payload) => payload.deletedId ?? null }),
  }),
});

builder.mutationFields((t) => ({
  triggerFlowRun: payloadField(t, TriggerFlowRunPayload, {
    description: 'Starts a flow in a thread: running if the thread is idle, otherwise queued behind its runs.',
    args: { input: t.arg({ type: TriggerFlowRunInput, required: true }) },
    resolve: ({ input }, { tenant }) => triggerFlowRun(tenant, input),
  }),
  patchFlowRun: payloadField(t, PatchFlowRunPayload, {
    args: {
      id: t.arg({ type: 'UUID', required: true }),
      input: t.arg({ type: PatchFlowRunInput, required: true }),
    },
    resolve: async ({ id, input }, { tenant }) => ({ flowRun: await patchFlowRun(tenant, id, input) }),
  }),
  deleteFlowRun: payloadField(t, DeleteFlowRunPayload, {
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: async ({ id }, { tenant }) => {
      await deleteFlowRun(tenant, id);
      return { deletedId: id };
    },
  }),
}));
