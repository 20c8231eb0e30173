// Every subscription, over SSE or WebSocket, takes one of its API key's places in the
// registry before it starts and gives it back when it ends, whichever way it ends. Both
// transports execute through yoga's envelop, so this is the one place that counts them.
// When the key stops being valid, the subscription ends: over WebSocket the transport
// closes the connection (4403, through the context's `endForRefusedKey`); over SSE the
// stream gets the UNAUTHENTICATED error of any request with that key, then `complete`.
import { type ExecutionResult, GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { DomainError } from '../domain/errors.js';
import type { GraphQLContext } from './context.js';
import { domainErrorToGraphQL } from './errors.js';
import type { SubscriptionHold, SubscriptionRegistry } from './subscription-registry.js';

const keyRefused = () => domainErrorToGraphQL(new DomainError('UNAUTHENTICATED', 'the API key is not valid'));

export function holdSubscriptions(registry: SubscriptionRegistry): Plugin<GraphQLContext> {
  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      const { tenant, endForRefusedKey } = args.contextValue;
      let refuse!: () => void;
      const refused = new Promise<'refused'>((resolve) => (refuse = () => resolve('refused')));
      const hold = registry.hold({ apiKeyId: tenant.apiKeyId, expiresAt: tenant.apiKeyExpiresAt }, endForRefusedKey ?? refuse);
      if (!hold) {
        setResultAndStopExecution({
          errors: [
            new GraphQLError(
              `this API key already holds ${registry.maxPerKey} subscriptions, the most one key may hold on an instance; complete one first`,
              { extensions: { code: 'SUBSCRIPTION_LIMIT_REACHED' } },
            ),
          ],
        });
        return;
      }
      return {
        onSubscribeResult({ result, setResult }) {
          // Refused before it started (a wrong argument): nothing to hold a place for.
          if (!isAsyncIterable(result)) return void hold.release();
          setResult(endable(result, hold, refused));
        },
        onSubscribeError: () => hold.release(),
      };
    },
    // A subscription asked for without an event stream (Accept: application/json) is
    // answered 406 and never read: end it, or its place (and its listener) would stay taken.
    onResultProcess({ result, resultProcessor }) {
      if (!resultProcessor && isAsyncIterable(result)) void Promise.resolve(result[Symbol.asyncIterator]().return?.()).catch(() => {});
    },
  };
}

/**
 * The subscription's results until it ends: the place is given back when the stream is
 * done or the client leaves; once `refused`, one last result with the error, then done.
 */
function endable(
  source: AsyncIterable<ExecutionResult>,
  hold: SubscriptionHold,
  refused: Promise<'refused'>,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  const finish = () => {
    finished = true;
    hold.release();
  };
  const endable: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => endable,
    async next() {
      if (finished) return { done: true, value: undefined };
      let next: IteratorResult<ExecutionResult> | 'refused';
      try {
        next = await Promise.race([iterator.next(), refused]);
      } catch (error) {
        finish();
        throw error;
      }
      if (next === 'refused') {
        finish();
        void iterator.return?.()?.catch(() => {});
        return { done: false, value: { errors: [keyRefused()] } };
      }
      if (next.done) finish();
      return next;
    },
    async return(value?: unknown) {
      finish();
      return (await iterator.return?.(value)) ?? { done: true, value: undefined };
    },
    async throw(error?: unknown) {
      finish();
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
  };
  return endable;
}
