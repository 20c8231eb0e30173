// The flowRunChanged subscription: changes to one run, or to every run of one thread,
// within the subscriber's organization.
import { GraphQLError } from 'graphql';
import { filter, pipe } from 'graphql-yoga';
import type { FlowRunChange } from '../../domain/flow-run-changes.js';
import { builder } from '../builder.js';
import { flowRunLoader } from '../flow-run-loader.js';
import { FlowRunStatus } from './flow-run.js';

const FlowRunChangeKind = builder.enumType('FlowRunChangeKind', {
  values: ['triggered', 'updated', 'promoted', 'timedOut', 'deleted'] as const,
});

const FlowRunChangeRef = builder.objectRef<FlowRunChange>('FlowRunChange').implement({
  description: 'Announced after the change has been committed.',
  fields: (t) => ({
    kind: t.field({ type: FlowRunChangeKind, resolve: (change) => change.kind }),
    flowRunId: t.field({ type: 'UUID', resolve: (change) => change.flowRunId }),
    messageThreadId: t.field({ type: 'UUID', resolve: (change) => change.messageThreadId }),
    status: t.field({
      type: FlowRunStatus,
      nullable: true,
      description: 'The status the change left; null once deleted.',
      resolve: (change) => change.status,
    }),
    at: t.field({ type: 'DateTime', resolve: (change) => new Date(change.at) }),
    flowRun: t.prismaField({
      type: 'FlowRun',
      nullable: true,
      description: 'The run as it is now; null once deleted.',
      resolve: (query, change, _args, context) => flowRunLoader(context, change).load({ id: change.flowRunId, select: query.select ?? {} }),
    }),
  }),
});

builder.subscriptionType({
  fields: (t) => ({
    flowRunChanged: t.field({
      type: FlowRunChangeRef,
      description: 'Give exactly one of flowRunId and messageThreadId.',
      args: {
        flowRunId: t.arg({ type: 'UUID' }),
        messageThreadId: t.arg({ type: 'UUID' }),
      },
      subscribe: (_root, { flowRunId, messageThreadId }, { tenant, changeFeed }) => {
        if (!flowRunId === !messageThreadId) {
          throw new GraphQLError('give exactly one of flowRunId and messageThreadId', {
            extensions: { code: 'VALIDATION_FAILED' },
          });
        }
        if (!changeFeed) throw new GraphQLError('subscriptions are served over SSE or WebSocket at /graphql');
        // yoga's filter ends the underlying subscription as soon as the client leaves.
        return pipe(
          changeFeed.subscribe(tenant.organizationId),
          filter((change: FlowRunChange) => (flowRunId ? change.flowRunId === flowRunId : change.messageThreadId === messageThreadId)),
        );
      },
      resolve: (change) => change,
    }),
  }),
});
