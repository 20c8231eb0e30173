// Structured JSON logs (pino). What is logged is chosen field by field: never an API key,
// a request body or a run's state, which may hold personal data.
import { pino } from 'pino';
import { logLevel } from '../config.js';

export const logger = pino(
  {
    level: logLevel() ?? 'info',
    base: { service: 'flow-run-gateway' },
    redact: { paths: ['req.headers.authorization', 'authorization', '*.authorization', 'state', '*.state'], remove: true },
  },
  // Written as they come (pino's default buffers): a line logged just before the process
  // exits, `stopped` or a crash's `fatal`, is neither lost nor printed out of order.
  pino.destination({ dest: 1, sync: true }),
);

export type Logger = typeof logger;
