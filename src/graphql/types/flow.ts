// Flow in GraphQL: the type, its queries and its mutations (rules in src/domain/flows.ts).
import { createFlow, deleteFlow, flowWhere, updateFlow } from '../../domain/flows.js';
import { builder } from '../builder.js';
import { PAGE_SIZE } from '../limits.js';
import { relatedFlowRuns } from './flow-run.js';
import { deletedType, offsetArgDescription, orderByWithTieBreak, orderInput, skipOffset } from './lists.js';

builder.prismaObject('Flow', {
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
    flowRuns: t.relatedConnection('flowRuns', relatedFlowRuns),
  }),
});

const FlowFilter = builder.inputType('FlowFilter', {
  fields: (t) => ({
    name: t.string({ required: false, description: 'Exact match (surrounding spaces aside, as names are stored).' }),
  }),
});

const FlowOrder = orderInput('Flow', ['createdAt', 'updatedAt', 'name'] as const);

builder.queryFields((t) => ({
  flow: t.prismaField({
    type: 'Flow',
    nullable: true,
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: (query, _root, { id }, { tenant }) => tenant.db.flow.findUnique({ ...query, where: { id } }),
  }),
  flows: t.prismaConnection({
    type: 'Flow',
    cursor: 'id',
    defaultSize: PAGE_SIZE.default,
    maxSize: PAGE_SIZE.max,
    args: {
      filter: t.arg({ type: FlowFilter }),
      orderBy: t.arg({ type: [FlowOrder], description: 'Default: newest first.' }),
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
  }),
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

const DeletedFlow = deletedType('DeletedFlow');

builder.mutationFields((t) => ({
  createFlow: t.prismaField({
    type: 'Flow',
    args: { input: t.arg({ type: CreateFlowInput, required: true }) },
    resolve: (_query, _root, { input }, { tenant }) => createFlow(tenant, input),
  }),
  updateFlow: t.prismaField({
    type: 'Flow',
    args: { id: t.arg({ type: 'UUID', required: true }), input: t.arg({ type: UpdateFlowInput, required: true }) },
    resolve: (_query, _root, { id, input }, { tenant }) => updateFlow(tenant, id, input),
  }),
  deleteFlow: t.field({
    type: DeletedFlow,
    description: 'Refused while the flow has runs.',
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: async (_root, { id }, { tenant }) => {
      await deleteFlow(tenant, id);
      return { id };
    },
  }),
}));
