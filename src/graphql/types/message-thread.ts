// MessageThread in GraphQL: the type, its queries and its mutations
// (rules in src/domain/message-threads.ts).
import { CHANNELS, createMessageThread, deleteMessageThread, messageThreadWhere, updateMessageThread } from '../../domain/message-threads.js';
import { builder } from '../builder.js';
import { PAGE_SIZE } from '../limits.js';
import { FlowRunConnection, relatedFlowRuns } from './flow-run.js';
import { nodeConnection, offsetArgDescription, orderByArgument, orderByWithTieBreak, orderInput, skipOffset } from './lists.js';
import { mutationPayload, payloadField } from './payloads.js';

const Channel = builder.enumType('Channel', { values: CHANNELS });

const MessageThread = builder.prismaObject('MessageThread', {
  fields: (t) => ({
    id: t.expose('id', { type: 'UUID' }),
    channel: t.expose('channel', { type: Channel }),
    identifier: t.exposeString('identifier', {
      description: 'whatsapp/sms: E.164 digits without "+"; email: an address; web: any id.',
    }),
    candidateId: t.expose('candidateId', { type: 'UUID', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    flowRuns: t.relatedConnection('flowRuns', relatedFlowRuns, FlowRunConnection),
  }),
});

const MessageThreadFilter = builder.inputType('MessageThreadFilter', {
  description: 'Find the thread of a person on a channel before creating one.',
  fields: (t) => ({
    channel: t.field({ type: Channel, required: false }),
    identifier: t.string({
      required: false,
      description: "Exact match, checked like a new thread's identifier (by the channel, when given).",
    }),
  }),
});

const MessageThreadConnection = nodeConnection('MessageThread', MessageThread);

const MessageThreadOrder = orderInput('MessageThread', ['createdAt', 'updatedAt', 'identifier'] as const);

builder.queryFields((t) => ({
  messageThread: t.prismaField({
    type: 'MessageThread',
    nullable: true,
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: (query, _root, { id }, { tenant }) => tenant.db.messageThread.findUnique({ ...query, where: { id } }),
  }),
  messageThreads: t.prismaConnection(
    {
      type: MessageThread,
      cursor: 'id',
      defaultSize: PAGE_SIZE.default,
      maxSize: PAGE_SIZE.max,
      args: {
        filter: t.arg({ type: MessageThreadFilter }),
        orderBy: t.arg({ type: [MessageThreadOrder], ...orderByArgument(MessageThreadOrder) }),
        offset: t.arg.int({ description: offsetArgDescription('threads') }),
      },
      totalCount: (_connection, { filter }, { tenant }) => tenant.db.messageThread.count({ where: messageThreadWhere(filter) }),
      resolve: (query, _root, args, { tenant }) =>
        tenant.db.messageThread.findMany({
          ...query,
          ...skipOffset(args),
          where: messageThreadWhere(args.filter),
          orderBy: orderByWithTieBreak(args.orderBy, { field: 'createdAt', direction: 'desc' }),
        }),
    },
    MessageThreadConnection,
  ),
}));

const messageThreadInput = (required: boolean) =>
  builder.inputType(required ? 'CreateMessageThreadInput' : 'UpdateMessageThreadInput', {
    fields: (t) => ({
      channel: t.field({ type: Channel, required }),
      identifier: t.string({ required }),
      candidateId: t.field({ type: 'UUID' }),
    }),
  });
const CreateMessageThreadInput = messageThreadInput(true);
const UpdateMessageThreadInput = messageThreadInput(false);

type MessageThreadRow = Awaited<ReturnType<typeof createMessageThread>>;

const threadField = (t: Parameters<Parameters<typeof mutationPayload<{ messageThread: MessageThreadRow }>>[1]['fields']>[0]) =>
  t.prismaField({ type: MessageThread, nullable: true, resolve: (_query, payload) => payload.messageThread ?? null });

const CreateMessageThreadPayload = mutationPayload<{ messageThread: MessageThreadRow }>('CreateMessageThread', {
  errors: ['VALIDATION_FAILED', 'THREAD_ALREADY_EXISTS'],
  fields: (t) => ({ messageThread: threadField(t) }),
});
const UpdateMessageThreadPayload = mutationPayload<{ messageThread: MessageThreadRow }>('UpdateMessageThread', {
  errors: ['NOT_FOUND', 'VALIDATION_FAILED', 'THREAD_ALREADY_EXISTS'],
  fields: (t) => ({ messageThread: threadField(t) }),
});
const DeleteMessageThreadPayload = mutationPayload<{ deletedId: string }>('DeleteMessageThread', {
  errors: ['NOT_FOUND', 'HAS_FLOW_RUNS'],
  fields: (t) => ({
    deletedId: t.field({ type: 'UUID', nullable: true, resolve: (payload) => payload.deletedId ?? null }),
  }),
});

builder.mutationFields((t) => ({
  createMessageThread: payloadField(t, CreateMessageThreadPayload, {
    args: { input: t.arg({ type: CreateMessageThreadInput, required: true }) },
    resolve: async ({ input }, { tenant }) => ({ messageThread: await createMessageThread(tenant, input) }),
  }),
  updateMessageThread: payloadField(t, UpdateMessageThreadPayload, {
    args: {
      id: t.arg({ type: 'UUID', required: true }),
      input: t.arg({ type: UpdateMessageThreadInput, required: true }),
    },
    resolve: async ({ id, input }, { tenant }) => ({ messageThread: await updateMessageThread(tenant, id, input) }),
  }),
  deleteMessageThread: payloadField(t, DeleteMessageThreadPayload, {
    description: 'Refused while the thread has runs.',
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: async ({ id }, { tenant }) => {
      await deleteMessageThread(tenant, id);
      return { deletedId: id };
    },
  }),
}));
