import { z } from 'zod';
import { startKlarnaSimulator } from './server.js';

// Standalone Klarna simulator: `npm run simulator`. Configuration from the environment, checked
// once by zod; a bad value stops the process with a message naming the variable.

const env = z
  .object({
    SIMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
    SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
    SIMULATOR_USERNAME: z.string().min(1).default('sim-merchant'),
    SIMULATOR_PASSWORD: z.string().min(1).default('sim-secret'),
    SIMULATOR_CONTROLS: z.enum(['true', 'false']).optional(),
    SIMULATOR_PUBLIC_URL: z.url().optional(),
    NODE_ENV: z.string().optional(),
  })
  .safeParse(process.env);

if (!env.success) {
  for (const issue of env.error.issues) console.error(`Invalid ${issue.path.join('.')}: ${issue.message}`);
  process.exit(1);
}

const config = env.data;
// The /_sim controls let anyone authorize payments: off by default in production.
const controls = config.SIMULATOR_CONTROLS ? config.SIMULATOR_CONTROLS === 'true' : config.NODE_ENV !== 'production';

const simulator = await startKlarnaSimulator({
  username: config.SIMULATOR_USERNAME,
  password: config.SIMULATOR_PASSWORD,
  port: config.SIMULATOR_PORT,
  host: config.SIMULATOR_HOST,
  ...(config.SIMULATOR_PUBLIC_URL ? { publicUrl: config.SIMULATOR_PUBLIC_URL } : {}),
  controls,
  logger: true,
});
simulator.app.log.info({ url: simulator.url, controls, username: config.SIMULATOR_USERNAME }, `Klarna simulator listening on ${simulator.url}`);

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
