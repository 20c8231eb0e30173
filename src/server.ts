// Starts the service: database (migrated), demo data on an empty embedded database,
// HTTP server; stops cleanly on SIGTERM/SIGINT.
import { createServer } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createServerAdapter } from '@whatwg-node/server';
import { readConfig } from './config.js';
import { EmbeddedDatabaseBusyError, openDatabase } from './database/client.js';
import { seedDemoIfEmpty } from './demo-data.js';
import { createApp } from './http/app.js';

const config = readConfig();
const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }).catch((error) => {
  if (error instanceof EmbeddedDatabaseBusyError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
});

// GraphiQL on the embedded demo database starts with the demo key filled in. The key is
// kept beside the data (demo data only: real keys are never stored in clear).
let graphiqlHeaders: Record<string, string> | undefined;
if (db.kind === 'embedded') {
  const demoKeyFile = join(config.dataDir, 'demo-api-key');
  const demoKey = await seedDemoIfEmpty(db);
  if (demoKey) {
    await writeFile(demoKeyFile, demoKey, { mode: 0o600 });
    console.log(`Seeded a demo organization. Its API key (shown once): ${demoKey}`);
  }
  const storedKey = demoKey ?? (await readFile(demoKeyFile, 'utf8').catch(() => undefined));
  if (storedKey) graphiqlHeaders = { Authorization: storedKey };
}

const app = createApp({ db, graphiqlHeaders });
const server = createServer(createServerAdapter((request: Request) => app.fetch(request)));
server.listen(config.port, () => {
  console.log(`Flow-run gateway on http://localhost:${config.port}/graphql (${db.kind} database)`);
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: finishing in-flight requests`);
  server.close();
  server.closeIdleConnections();
  await db.close();
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
