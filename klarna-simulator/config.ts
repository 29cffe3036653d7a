import { z } from 'zod';
import type { KlarnaSimulatorOptions } from './server.js';

// The standalone simulator's configuration (`npm run simulator`), from the environment, checked
// once by zod. Kept apart from main.ts so the rules (notably: no controls in production) are
// testable without starting a process.

const envSchema = z
  .object({
    SIMULATOR_PORT: z.coerce.number().int().min(0).max(65535).default(8090),
    SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
    SIMULATOR_USERNAME: z.string().min(1).default('sim-merchant'),
    SIMULATOR_PASSWORD: z.string().min(1).default('sim-secret'),
    SIMULATOR_CONTROLS: z.enum(['true', 'false']).optional(),
    SIMULATOR_PUBLIC_URL: z.url().optional(),
    /** v2 API key accepted as `Authorization: Basic <key>` on /v2 paths. */
    SIMULATOR_API_KEY: z.string().min(8).optional(),
    /** A v2 webhook endpoint (Klarna's portal subscription) and the key its signatures use. */
    SIMULATOR_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
    SIMULATOR_WEBHOOK_SIGNING_KEY: z.string().min(16).optional(),
    SIMULATOR_WEBHOOK_SIGNING_KEY_ID: z.string().min(1).optional(),
    NODE_ENV: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    // A production build never exposes /_sim (anyone could authorize payments through it).
    if (env.NODE_ENV === 'production' && env.SIMULATOR_CONTROLS === 'true') {
      ctx.addIssue({ code: 'custom', path: ['SIMULATOR_CONTROLS'], message: 'the /_sim controls cannot be turned on with NODE_ENV=production' });
    }
    if (env.SIMULATOR_WEBHOOK_URL && !env.SIMULATOR_WEBHOOK_SIGNING_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SIMULATOR_WEBHOOK_SIGNING_KEY'], message: 'required with SIMULATOR_WEBHOOK_URL' });
    }
  });

export type SimulatorProcessConfig = KlarnaSimulatorOptions & { port: number; host: string; controls: boolean };

/** Options for startKlarnaSimulator, or one `Invalid <VAR>: <reason>` line per bad variable. */
export function simulatorConfigFromEnv(env: NodeJS.ProcessEnv): { ok: true; config: SimulatorProcessConfig } | { ok: false; errors: string[] } {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.map((i) => `Invalid ${i.path.join('.')}: ${i.message}`) };
  const e = parsed.data;
  const controls = e.NODE_ENV === 'production' ? false : e.SIMULATOR_CONTROLS !== 'false';
  return {
    ok: true,
    config: {
      username: e.SIMULATOR_USERNAME,
      password: e.SIMULATOR_PASSWORD,
      port: e.SIMULATOR_PORT,
      host: e.SIMULATOR_HOST,
      controls,
      ...(e.SIMULATOR_PUBLIC_URL ? { publicUrl: e.SIMULATOR_PUBLIC_URL } : {}),
      ...(e.SIMULATOR_API_KEY ? { apiKey: e.SIMULATOR_API_KEY } : {}),
      ...(e.SIMULATOR_WEBHOOK_URL && e.SIMULATOR_WEBHOOK_SIGNING_KEY
        ? {
            webhooks: [
              {
                url: e.SIMULATOR_WEBHOOK_URL,
                signing_key: e.SIMULATOR_WEBHOOK_SIGNING_KEY,
                ...(e.SIMULATOR_WEBHOOK_SIGNING_KEY_ID ? { signing_key_id: e.SIMULATOR_WEBHOOK_SIGNING_KEY_ID } : {}),
              },
            ],
          }
        : {}),
    },
  };
}
