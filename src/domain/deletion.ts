// A flow or a thread that still has runs cannot be deleted. The foreign
// keys (ON DELETE RESTRICT) decide, in the same statement as the delete, so a run
// triggered while the delete is under way can never be orphaned and no look-up is needed.
import { isForeignKeyViolation, isRecordNotFound } from './database-errors.js';
import { DomainError, notFound } from './errors.js';

const NAMES = { Flow: 'flow', MessageThread: 'message thread' } as const;

export async function deleteUnlessItHasRuns(what: keyof typeof NAMES, remove: () => Promise<unknown>): Promise<void> {
  try {
    await remove();
  } catch (error) {
    if (isRecordNotFound(error)) throw notFound(what);
    if (isForeignKeyViolation(error)) {
      throw new DomainError('HAS_FLOW_RUNS', `the ${NAMES[what]} still has flow runs; delete them first`);
    }
    throw error;
  }
}
