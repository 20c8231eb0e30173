// Who is let through to either surface. A key is judged before it is counted: only keys
// that authenticate get a per-key budget, so random keys cannot grow the limiter. Looking
// up a key not known to be valid spends the client address's budget (given back when
// the key turns out valid), so guessing costs one address at most that many database
// look-ups a minute. Requests without a key have a budget per address too.
import { DomainError } from '../domain/errors.js';
import { type Authenticator, hashApiKey } from '../domain/organizations.js';
import { LRUCache } from 'lru-cache';
import type { Admission } from '../request/admission.js';
import { apiKeyFrom } from '../request/authorization.js';
import type { ClientConnection } from '../request/client-connection.js';
import type { ClientLimits } from './client-limits.js';
import { errorFor, type Surface } from './error-response.js';
import type { RateDecision, RateLimiter } from './rate-limit.js';

export interface AdmissionOptions {
  /** The app's: what admission learns of a key, the surface need not look up again. */
  authenticator: Authenticator;
  rateLimiter?: RateLimiter;
  clientLimits?: ClientLimits;
}

// A key that authenticated on this instance and was used within the last hour is let
// through without spending the address's look-up budget: a client whose address is
// guessing (or shares a NAT with a guesser) keeps working with the key it was using.
// Only valid keys get in, and at most this many: guessing cannot grow the set.
const SERVED_KEYS = { max: 10_000, ttl: 60 * 60_000, updateAgeOnGet: true };

const admitted = (headers: Record<string, string> = {}): Admission => ({ headers });

type Verdict = 'valid' | 'invalid' | 'unknown';
type Verification = { verdict: Verdict } | { refusal: RateDecision };

export function createAdmission({ authenticator, rateLimiter, clientLimits }: AdmissionOptions) {
  const servedKeys = new LRUCache<string, true>(SERVED_KEYS);
  // Requests that bring the same key from the same address while it is being looked up
  // share that look-up: a client opening with 50 requests at once spends one point, not
  // 50 (nor is it refused for them). Entries live only as long as their look-up.
  const verifying = new Map<string, Promise<Verification>>();

  const refuse = (surface: Surface, detail: string, decision: RateDecision): Admission => ({
    refused: errorFor(surface, 429, 'RATE_LIMITED', detail, decision.headers),
    detail,
  });

  async function verify(key: string, address: string | undefined): Promise<Verification> {
    const budget = clientLimits?.keyLookups;
    if (budget && address) {
      const decision = await budget.take(address);
      if (!decision.allowed) return { refusal: decision };
    }
    const verdict: Verdict = await authenticator.authenticate(key).then(
      () => 'valid',
      (error) => (error instanceof DomainError && error.code === 'UNAUTHENTICATED' ? 'invalid' : 'unknown'),
    );
    // Only a failed authentication stays spent: not a valid key, nor a database that did not answer.
    if (verdict !== 'invalid' && budget && address) await budget.giveBack(address);
    return { verdict };
  }

  return async function admit(request: Request, surface: Surface, connection?: ClientConnection): Promise<Admission> {
    const key = apiKeyFrom(request.headers);
    const address = clientLimits?.addressOf(connection, request.headers);

    if (!key) {
      const budget = clientLimits?.keyless;
      if (!budget || !address) return admitted();
      const decision = await budget.take(address);
      return decision.allowed
        ? admitted()
        : refuse(surface, 'too many requests without an API key from this address; retry after the time given', decision);
    }

    const hash = hashApiKey(key);
    if (!servedKeys.get(hash)) {
      const id = `${address ?? ''} ${hash}`;
      let verification = verifying.get(id);
      if (!verification) {
        verification = verify(key, address).finally(() => verifying.delete(id));
        verifying.set(id, verification);
      }
      const outcome = await verification;
      if ('refusal' in outcome) {
        return refuse(surface, 'too many failed authentications from this address; retry after the time given', outcome.refusal);
      }
      // The surface answers the others as it always has: 401 (from the cache of unknown
      // keys, without a second look-up) or 503 for the database.
      if (outcome.verdict !== 'valid') return admitted();
      servedKeys.set(hash, true);
    }

    if (!rateLimiter) return admitted();
    const decision = await rateLimiter.take(key);
    return decision.allowed
      ? admitted(decision.headers)
      : refuse(surface, 'too many requests for this API key; retry after the time given', decision);
  };
}
