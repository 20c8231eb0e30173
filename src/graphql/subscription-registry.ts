// The open subscriptions of an instance, by the API key that opened them, whatever the
// transport (SSE or WebSocket): one count per key for the cap, and the one place that ends
// a key's subscriptions once the key stops being valid. A key's validity is rechecked
//  - when the instance hears that keys changed (a revocation or rotation announced on
//    Redis, or Redis back after an outage): at once;
//  - every half API_KEY_CACHE_TTL_MS while it holds subscriptions: news that never came
//    (no Redis) is found within the time a revoked key keeps working for requests;
//  - at the key's expiresAt, by a timer: an expiry needs no news.
import type { Clock } from '../domain/flow-run-changes.js';

/** When each of the given keys stops being valid (null: not before it is revoked); unusable keys are left out. */
export type UsableKeys = (apiKeyIds: string[], now: Date) => Promise<Map<string, Date | null>>;

export interface HeldKey {
  apiKeyId: string;
  /** When the key expires, as known when the subscription opened. */
  expiresAt: Date | null;
}

export interface SubscriptionHold {
  /** Gives the place back (the subscription ended); calling it again does nothing. */
  release(): void;
}

export interface SubscriptionRegistry {
  /**
   * Takes one of the key's places, or answers undefined when the key holds its
   * maximum. `end` is called once if the key stops being valid while the place is held:
   * it must end the subscription (the place is given back by then).
   */
  hold(key: HeldKey, end: () => void): SubscriptionHold | undefined;
  /** Rechecks these keys (every held key when none are given) and ends the subscriptions of those no longer valid. */
  recheck(apiKeyIds?: readonly string[]): Promise<void>;
  readonly maxPerKey: number;
}

export interface SubscriptionRegistryOptions {
  maxPerKey: number;
  usableKeys: UsableKeys;
  clock: Clock;
  /** How often held keys are rechecked when no news comes. */
  recheckEveryMs: number;
  /** A recheck that failed (the database is away): the subscriptions go on until the next one. */
  onRecheckFailed?(error: unknown): void;
}

// setTimeout holds at most 2^31 - 1 ms (about 24.8 days); a later expiry is re-armed on the way.
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Key {
  ends: Set<() => void>;
  expiresAt: number | null;
  timer?: NodeJS.Timeout;
}

export function createSubscriptionRegistry(options: SubscriptionRegistryOptions): SubscriptionRegistry {
  const { maxPerKey, usableKeys, clock } = options;
  const keys = new Map<string, Key>();
  let recheckTimer: NodeJS.Timeout | undefined;

  function arm(apiKeyId: string, key: Key) {
    clearTimeout(key.timer);
    key.timer = undefined;
    if (key.expiresAt === null) return;
    const expiresAt = key.expiresAt;
    const wait = Math.min(Math.max(expiresAt - clock.now().getTime(), 0), MAX_TIMER_MS);
    key.timer = setTimeout(() => {
      if (keys.get(apiKeyId) !== key) return;
      if (clock.now().getTime() >= expiresAt) endKey(apiKeyId);
      else arm(apiKeyId, key);
    }, wait);
    key.timer.unref();
  }

  function forget(apiKeyId: string, key: Key) {
    clearTimeout(key.timer);
    keys.delete(apiKeyId);
    if (keys.size === 0) {
      clearInterval(recheckTimer);
      recheckTimer = undefined;
    }
  }

  function endKey(apiKeyId: string) {
    const key = keys.get(apiKeyId);
    if (!key) return;
    forget(apiKeyId, key);
    for (const end of key.ends) end();
  }

  async function recheck(apiKeyIds?: readonly string[]) {
    const ids = (apiKeyIds ?? [...keys.keys()]).filter((id) => keys.has(id));
    if (!ids.length) return;
    const now = clock.now();
    const usable = await usableKeys(ids, now);
    for (const id of ids) {
      const key = keys.get(id);
      if (!key) continue;
      if (!usable.has(id)) {
        endKey(id);
        continue;
      }
      // A rotation may have brought the expiry forward (the end of its overlap).
      const expiresAt = usable.get(id)?.getTime() ?? null;
      if (expiresAt !== key.expiresAt) {
        key.expiresAt = expiresAt;
        arm(id, key);
      }
    }
  }

  return {
    maxPerKey,
    hold({ apiKeyId, expiresAt }, end) {
      let key = keys.get(apiKeyId);
      if (key && key.ends.size >= maxPerKey) return undefined;
      if (!key) {
        key = { ends: new Set(), expiresAt: expiresAt?.getTime() ?? null };
        keys.set(apiKeyId, key);
        arm(apiKeyId, key);
        recheckTimer ??= setInterval(() => {
          recheck().catch((error: unknown) => options.onRecheckFailed?.(error));
        }, options.recheckEveryMs).unref();
      }
      const held = key;
      // Its own function, so that the same `end` given twice holds two places.
      const ending = () => end();
      held.ends.add(ending);
      return {
        release() {
          if (!held.ends.delete(ending)) return;
          if (held.ends.size === 0 && keys.get(apiKeyId) === held) forget(apiKeyId, held);
        },
      };
    },
    recheck,
  };
}
