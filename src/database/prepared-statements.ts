// Named statements keep their plans on the connection that prepared them, for as long as it
// lives: PostgreSQL holds each one in the connection's memory, and the driver its text.
// Their names come from the SQL text (src/database/client.ts, src/database/row-reader.ts),
// and a list filter makes a text per list length: a client choosing lengths and filter
// combinations could grow both without end. Each connection keeps the statements it used
// most recently, up to a bound; one pushed out is DEALLOCATEd on that connection before
// its next named statement, and prepared again if it is used again.
import { LRUCache } from 'lru-cache';
import pg from 'pg';

/**
 * Statements a connection keeps prepared. Above the shapes the code sends in normal use
 * (a few hundred), so that those stay prepared, and bounded, whatever clients send.
 */
export const PREPARED_STATEMENTS_PER_CONNECTION = 500;

/** The driver's record of the statements a connection has prepared (by name, their text). */
interface DriverConnection {
  parsedStatements: Record<string, string>;
  /** Sent to be prepared, not yet confirmed. */
  submittedNamedStatements: Record<string, string>;
}

type Query = pg.PoolClient['query'];

/** Bounds the named statements `client` keeps prepared to `max`, the most recently used. */
export function boundPreparedStatements(client: pg.ClientBase, max = PREPARED_STATEMENTS_PER_CONNECTION): void {
  const connection = (client as unknown as { connection: DriverConnection }).connection;
  // Pushed out, not yet deallocated: still prepared on the server.
  const stale = new Set<string>();
  const kept = new LRUCache<string, true>({
    max,
    dispose: (_value, name, reason) => {
      if (reason === 'evict') stale.add(name);
    },
  });
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;

  function deallocate(name: string) {
    stale.delete(name);
    // Only a statement the server confirmed: deallocating an unknown name fails, and inside a
    // transaction that failure would abort it.
    if (connection.parsedStatements[name] === undefined) {
      // Still being prepared: deallocated before a later statement, once it is.
      if (connection.submittedNamedStatements[name] !== undefined) stale.add(name);
      return;
    }
    // A callback, not a promise: it runs before the driver sends the next queued statement,
    // which then prepares the name again if it uses it.
    query(`DEALLOCATE ${pg.escapeIdentifier(name)}`, (error: Error | null) => {
      if (!error) delete connection.parsedStatements[name];
      // Not deallocated (the transaction had failed, say): tried again before a later statement.
      else if (!kept.has(name)) stale.add(name);
    });
  }

  client.query = ((...args: unknown[]) => {
    const [config] = args;
    const name = typeof config === 'object' && config !== null ? (config as { name?: unknown }).name : undefined;
    if (typeof name === 'string' && name) {
      // Used again before it was deallocated: it is still prepared, keep it.
      stale.delete(name);
      kept.set(name, true);
      for (const each of [...stale]) deallocate(each);
    }
    return query(...args);
  }) as Query;
}
