import { simulatorCredentials } from './in-process-app.js';

export interface AppProcessEnvOptions {
  temporalAddress: string;
  taskQueue: string;
  mongoUri: string;
  database: string;
  /** The Klarna simulator the processes call (with its merchant credentials). */
  simulatorUrl: string;
  apiPort: number;
  callbackSecret: string;
  /** TOKEN_ENCRYPTION_KEY, 32 bytes. */
  tokenKey: Buffer;
  /** PAYLOAD_ENCRYPTION_KEYS, as `formatPayloadKeys` writes them. */
  payloadKeys: string;
}

/**
 * The environment the shipped API and worker (`api/main.ts`, `worker/main.ts`) run with as their
 * own processes, on the given servers and the Klarna simulator: what tests of real processes and
 * the many-waiting benchmark share. Callers add their own settings on top (log level, auth, …).
 */
export function appProcessEnv(o: AppProcessEnvOptions): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: o.temporalAddress,
    TEMPORAL_TASK_QUEUE: o.taskQueue,
    MONGODB_URI: o.mongoUri,
    MONGODB_DATABASE: o.database,
    KLARNA_BASE_URL: o.simulatorUrl,
    KLARNA_USERNAME: simulatorCredentials.username,
    KLARNA_PASSWORD: simulatorCredentials.password,
    PUBLIC_BASE_URL: `http://127.0.0.1:${o.apiPort}`,
    CALLBACK_SECRET: o.callbackSecret,
    TOKEN_ENCRYPTION_KEY: o.tokenKey.toString('base64'),
    PAYLOAD_ENCRYPTION_KEYS: o.payloadKeys,
    API_PORT: String(o.apiPort),
  };
}
