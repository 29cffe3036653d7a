import { redactQuery } from './callbacks.js';
import { simulatorConfigFromEnv } from './config.js';
import { startKlarnaSimulator } from './server.js';

// Standalone Klarna simulator: `npm run simulator`. Configuration from the environment
// (./config.ts); a bad value stops the process with a message naming the variable.

const parsed = simulatorConfigFromEnv(process.env);
if (!parsed.ok) {
  for (const line of parsed.errors) console.error(line);
  process.exit(1);
}
const config = parsed.config;

const simulator = await startKlarnaSimulator({ ...config, logger: true });
simulator.app.log.info(
  { url: simulator.url, controls: config.controls, username: config.username, webhooks: (config.webhooks ?? []).map((w) => redactQuery(w.url)) },
  `Klarna simulator listening on ${simulator.url}`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    simulator.app.log.info({ signal }, 'Klarna simulator stopping');
    simulator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
