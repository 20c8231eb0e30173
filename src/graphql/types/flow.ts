// Flow in GraphQL: the type, its queries and its mutations (rules in src/domain/flows.ts).
import { createFlow, deleteFlow, flowWhere, updateFlow } from '../../domain/flows.js';
import { builder } from '../builder.js';
import { PAGE_SIZE } from '../limits.js';
import { FlowRunConnection, relatedFlowRuns } from './flow-run.js';
import { nodeConnection, offsetArgDescription, orderByArgument, orderByWithTieBreak, orderInput, skipOffset } from './lists.js';
import { mutationPayload, payloadField } from './payloads.js';

const Flow = builder.prismaObject('Flow', {
  fields: (t) => ({
    id: t.expose('id', { type: 'UUID' }),
    name: t.exposeString('name'),
    reminderInterval: t.exposeInt('reminderInterval', { nullable: true, description: 'Minutes between reminders.' }),
    reminderMessage: t.exposeString('reminderMessage', { nullable: true }),
    sessionTimeout: t.exposeInt('sessionTimeout', {
      description: 'Minutes a running run may stay idle before it times out.',
    }),
    publishedAt: t.expose('publishedAt', { type: 'DateTime', nullable: true }),
    unpublishedChanges: t.exposeBoolean('unpublishedChanges'),
    flowGenerationId: t.expose('flowGenerationId', { type: 'UUID', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    flowRuns: t.relatedConnection('flowRuns', relatedFlowRuns, FlowRunConnection),
  }),
});

const FlowFilter = builder.inputType('FlowFilter', {
  fields: (t) => ({
    name: t.string({ required: false, description: 'Exact match (surrounding spaces aside, as names are stored).' }),
  }),
});

const FlowConnection = nodeConnection('Flow', Flow);

const FlowOrder = orderInput('Flow', ['createdAt', 'updatedAt', 'name'] as const);

builder.queryFields((t) => ({
  flow: t.prismaField({
    type: 'Flow',
    nullable: true,
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: (query, _root, { id }, { tenant }) => tenant.db.flow.findUnique({ ...query, where: { id } }),
  }),
  flows: t.prismaConnection(
    {
      type: Flow,
      cursor: 'id',
      defaultSize: PAGE_SIZE.default,
      maxSize: PAGE_SIZE.max,
      args: {
        filter: t.arg({ type: FlowFilter }),
        orderBy: t.arg({ type: [FlowOrder], ...orderByArgument(FlowOrder) }),
        offset: t.arg.int({ description: offsetArgDescription('flows') }),
      },
      totalCount: (_connection, { filter }, { tenant }) => tenant.db.flow.count({ where: flowWhere(filter) }),
      resolve: (query, _root, args, { tenant }) =>
        tenant.db.flow.findMany({
          ...query,
          ...skipOffset(args),
          where: flowWhere(args.filter),
          orderBy: orderByWithTieBreak(args.orderBy, { field: 'createdAt', direction: 'desc' }),
        }),
    },
    FlowConnection,
  ),
}));

const flowInputFields = (required: boolean) =>
  builder.inputType(required ? 'CreateFlowInput' : 'UpdateFlowInput', {
    fields: (t) => ({
      name: t.string({ required }),
      reminderInterval: t.int(),
      reminderMessage: t.string(),
      sessionTimeout: t.int({ description: 'Minutes; default 1440.' }),
      publishedAt: t.field({ type: 'DateTime' }),
      unpublishedChanges: t.boolean(),
      flowGenerationId: t.field({ type: 'UUID' }),
    }),
  });
const CreateFlowInput = flowInputFields(true);
const UpdateFlowInput = flowInputFields(false);

type FlowRow = Awaited<ReturnType<typeof createFlow>>;

const flowField = (t: Parameters<Parameters<typeof mutationPayload<{ flow: FlowRow }>>[1]['fields']>[0]) =>
  t.prismaField({ type: Flow, nullable: true, resolve: (_query, payload) => payload.flow ?? null });

const CreateFlowPayload = mutationPayload<{ flow: FlowRow }>('CreateFlow', {
  errors: ['VALIDATION_FAILED'],
  fields: (t) => ({ flow: flowField(t) }),
});
const UpdateFlowPayload = mutationPayload<{ flow: FlowRow }>('UpdateFlow', {
  errors: ['NOT_FOUND', 'VALIDATION_FAILED'],
  fields: (t) => ({ flow: flowField(t) }),
});
const DeleteFlowPayload = mutationPayload<{ deletedId: string }>('DeleteFlow', {
  errors: ['NOT_FOUND', 'HAS_FLOW_RUNS'],
  fields: (t) => ({
    deletedId: t.field({ type: 'UUID', nullable: true, resolve: (payload) => payload.deletedId ?? null }),
  }),
});

builder.mutationFields((t) => ({
  createFlow: payloadField(t, CreateFlowPayload, {
    args: { input: t.arg({ type: CreateFlowInput, required: true }) },
    resolve: async ({ input }, { tenant }) => ({ flow: await createFlow(tenant, input) }),
  }),
  updateFlow: payloadField(t, UpdateFlowPayload, {
    args: { id: t.arg({ type: 'UUID', required: true }), input: t.arg({ type: UpdateFlowInput, required: true }) },
    resolve: async ({ id, input }, { tenant }) => ({ flow: await updateFlow(tenant, id, input) }),
  }),
  deleteFlow: payloadField(t, DeleteFlowPayload, {
    description: 'Refused while the flow has runs.',
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: async ({ id }, { tenant }) => {
      await deleteFlow(tenant, id);
      return { deletedId: id };
    },
  }),
}));
