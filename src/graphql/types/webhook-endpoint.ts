// WebhookEndpoint and its deliveries in GraphQL (rules in src/domain/webhook-endpoints.ts).
// The signing secret is no field of the endpoint: it is shown once, by the payloads of
// createWebhookEndpoint and rotateWebhookEndpointSecret.
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  type EndpointWithSecret,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
} from '../../domain/webhook-endpoints.js';
import { WEBHOOK_EVENT_TYPES } from '../../domain/webhook-events.js';
import type { WebhookEndpoint } from '../../database/generated/prisma/client.js';
import { builder } from '../builder.js';
import { PAGE_SIZE } from '../limits.js';
import { atMost, nodeConnection, offsetArgDescription, orderByArgument, orderByWithTieBreak, orderInput, skipOffset } from './lists.js';
import { mutationPayload, payloadField } from './payloads.js';

const EVENTS_DESCRIPTION = `Event types delivered to the endpoint, at least one of: ${WEBHOOK_EVENT_TYPES.join(', ')}.`;
const EVENTS_INPUT = {
  description: `${EVENTS_DESCRIPTION} Each at most once: at most ${WEBHOOK_EVENT_TYPES.length}.`,
  extensions: atMost(WEBHOOK_EVENT_TYPES.length),
};

const WebhookDeliveryStatus = builder.enumType('WebhookDeliveryStatus', {
  values: {
    pending: { description: 'Not delivered yet: the next attempt is due at nextAttemptAt.' },
    delivered: { description: 'The endpoint answered 2xx.' },
    failed: { description: 'Given up: retried for 24 hours without success, or its endpoint was turned off for failing.' },
    dropped: {
      description: 'Given up unsent: its endpoint had more than 10,000 deliveries pending, and this was among the oldest (lastError says so).',
    },
  } as const,
});

const WebhookDelivery = builder.prismaObject('WebhookDelivery', {
  description: 'One event sent (or to be sent) to one webhook endpoint.',
  fields: (t) => ({
    id: t.expose('id', { type: 'UUID', description: 'Sent as the webhook-id header; the same on every attempt.' }),
    eventType: t.exposeString('eventType'),
    flowRunId: t.expose('flowRunId', { type: 'UUID' }),
    status: t.expose('status', { type: WebhookDeliveryStatus }),
    attempts: t.exposeInt('attempts'),
    lastResponseStatus: t.exposeInt('lastResponseStatus', {
      nullable: true,
      description: "The HTTP status of the last attempt's answer; null before any, or when none came (timeout, refused connection).",
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description:
        'Why the last attempt failed, when it did, as a category: `refused` (no connection: the name did not resolve, the connection was refused or reset, or the address is not public), `timed out`, `TLS failed`, or `HTTP <status>` for an answer that is not 2xx. Or why the delivery was given up without an attempt.',
    }),
    nextAttemptAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the next attempt is due; null once delivered or failed.',
      resolve: (delivery) => (delivery.status === 'pending' ? delivery.nextAttemptAt : null),
    }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime', description: 'When the change happened.' }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WebhookDeliveryConnection = nodeConnection('WebhookDelivery', WebhookDelivery);

const deliveryListArgs = builder.args((t) => ({ offset: t.int({ description: offsetArgDescription('deliveries') }) }));

const WebhookEndpointRef = builder.prismaObject('WebhookEndpoint', {
  description: 'Where flow-run events are POSTed, signed as Standard Webhooks describes.',
  fields: (t) => ({
    id: t.expose('id', { type: 'UUID' }),
    url: t.exposeString('url'),
    events: t.exposeStringList('events', { description: EVENTS_DESCRIPTION }),
    enabled: t.exposeBoolean('enabled'),
    description: t.exposeString('description', { nullable: true }),
    disabledReason: t.exposeString('disabledReason', {
      nullable: true,
      description: 'Why the service turned the endpoint off (it kept failing); null otherwise.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    deliveries: t.relatedConnection(
      'deliveries',
      {
        cursor: 'id',
        defaultSize: PAGE_SIZE.default,
        maxSize: PAGE_SIZE.max,
        totalCount: true,
        args: deliveryListArgs,
        description: 'Newest first.',
        query: (args) => ({ ...skipOffset(args), orderBy: [{ createdAt: 'desc' as const }, { id: 'desc' as const }] }),
      },
      WebhookDeliveryConnection,
    ),
  }),
});

const WebhookEndpointConnection = nodeConnection('WebhookEndpoint', WebhookEndpointRef);

const WebhookEndpointOrder = orderInput('WebhookEndpoint', ['createdAt', 'updatedAt'] as const);

builder.queryFields((t) => ({
  webhookEndpoint: t.prismaField({
    type: 'WebhookEndpoint',
    nullable: true,
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: (query, _root, { id }, { tenant }) => tenant.db.webhookEndpoint.findUnique({ ...query, where: { id } }),
  }),
  webhookEndpoints: t.prismaConnection(
    {
      type: WebhookEndpointRef,
      cursor: 'id',
      defaultSize: PAGE_SIZE.default,
      maxSize: PAGE_SIZE.max,
      args: {
        orderBy: t.arg({ type: [WebhookEndpointOrder], ...orderByArgument(WebhookEndpointOrder) }),
        offset: t.arg.int({ description: offsetArgDescription('endpoints') }),
      },
      totalCount: (_connection, _args, { tenant }) => tenant.db.webhookEndpoint.count(),
      resolve: (query, _root, args, { tenant }) =>
        tenant.db.webhookEndpoint.findMany({
          ...query,
          ...skipOffset(args),
          orderBy: orderByWithTieBreak(args.orderBy, { field: 'createdAt', direction: 'desc' }),
        }),
    },
    WebhookEndpointConnection,
  ),
}));

const CreateWebhookEndpointInput = builder.inputType('CreateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({
      required: true,
      description: 'An https URL whose host resolves only to public addresses.',
    }),
    events: t.stringList({ required: true, ...EVENTS_INPUT }),
    enabled: t.boolean({ description: 'Default: true.' }),
    description: t.string({ description: 'At most 500 characters.' }),
  }),
});

const UpdateWebhookEndpointInput = builder.inputType('UpdateWebhookEndpointInput', {
  fields: (t) => ({
    url: t.string({ description: 'An https URL whose host resolves only to public addresses.' }),
    events: t.stringList(EVENTS_INPUT),
    enabled: t.boolean({ description: 'Turning it on again clears disabledReason.' }),
    description: t.string({ description: 'At most 500 characters.' }),
  }),
});

const secretField = {
  description: 'The signing secret (whsec_ and base64), shown only here: keep it to verify the webhook-signature header of each delivery.',
} as const;

type EndpointRow = EndpointWithSecret['endpoint'];
const endpointField = (t: Parameters<Parameters<typeof mutationPayload<{ endpoint: EndpointRow }>>[1]['fields']>[0]) =>
  t.prismaField({ type: WebhookEndpointRef, nullable: true, resolve: (_query, payload) => payload.endpoint ?? null });
const secretOf = (t: Parameters<Parameters<typeof mutationPayload<EndpointWithSecret>>[1]['fields']>[0]) =>
  t.string({ ...secretField, nullable: true, resolve: (payload) => payload.secret ?? null });

const CreateWebhookEndpointPayload = mutationPayload<EndpointWithSecret>('CreateWebhookEndpoint', {
  errors: ['VALIDATION_FAILED', 'LIMIT_REACHED'],
  fields: (t) => ({ webhookEndpoint: endpointField(t as never), secret: secretOf(t) }),
});

const RotateWebhookEndpointSecretPayload = mutationPayload<EndpointWithSecret>('RotateWebhookEndpointSecret', {
  errors: ['NOT_FOUND'],
  fields: (t) => ({ webhookEndpoint: endpointField(t as never), secret: secretOf(t) }),
});

const UpdateWebhookEndpointPayload = mutationPayload<{ endpoint: WebhookEndpoint }>('UpdateWebhookEndpoint', {
  errors: ['NOT_FOUND', 'VALIDATION_FAILED'],
  fields: (t) => ({ webhookEndpoint: endpointField(t) }),
});

const DeleteWebhookEndpointPayload = mutationPayload<{ deletedId: string }>('DeleteWebhookEndpoint', {
  errors: ['NOT_FOUND'],
  fields: (t) => ({
    deletedId: t.field({
      type: 'UUID',
      nullable: true,
      description: 'The endpoint deleted, with its deliveries.',
      resolve: (payload) => payload.deletedId ?? null,
    }),
  }),
});

builder.mutationFields((t) => ({
  createWebhookEndpoint: payloadField(t, CreateWebhookEndpointPayload, {
    args: { input: t.arg({ type: CreateWebhookEndpointInput, required: true }) },
    resolve: ({ input }, { tenant }) => createWebhookEndpoint(tenant, input),
  }),
  updateWebhookEndpoint: payloadField(t, UpdateWebhookEndpointPayload, {
    args: { id: t.arg({ type: 'UUID', required: true }), input: t.arg({ type: UpdateWebhookEndpointInput, required: true }) },
    resolve: async ({ id, input }, { tenant }) => ({ endpoint: await updateWebhookEndpoint(tenant, id, input) }),
  }),
  deleteWebhookEndpoint: payloadField(t, DeleteWebhookEndpointPayload, {
    description: 'Deletes the endpoint; its pending deliveries are never sent.',
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: async ({ id }, { tenant }) => {
      await deleteWebhookEndpoint(tenant, id);
      return { deletedId: id };
    },
  }),
  rotateWebhookEndpointSecret: payloadField(t, RotateWebhookEndpointSecretPayload, {
    description: 'A new signing secret; deliveries from now on are signed with it only.',
    args: { id: t.arg({ type: 'UUID', required: true }) },
    resolve: ({ id }, { tenant }) => rotateWebhookEndpointSecret(tenant, id),
  }),
}));
