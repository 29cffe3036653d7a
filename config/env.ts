import { z } from 'zod';
import { klarnaBaseUrl, KlarnaEnvironment, KlarnaRegion } from '../klarna/base-urls.js';
import { durationMs } from './duration.js';

// Configuration is parsed once, from the environment, by the schemas below. Each process asks for
// the sections it needs; every problem in those sections is reported at once.

const port = z.coerce.number().int().min(1).max(65535);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const nonEmpty = z.string().trim().min(1);

const temporalSchema = z
  .object({
    TEMPORAL_ADDRESS: nonEmpty.default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: nonEmpty.default('default'),
    TEMPORAL_TASK_QUEUE: nonEmpty.default('klarna-token-sagas'),
    TEMPORAL_TLS: bool.default(false),
    TEMPORAL_TLS_CERT_PATH: nonEmpty.optional(),
    TEMPORAL_TLS_KEY_PATH: nonEmpty.optional(),
    TEMPORAL_TLS_SERVER_NAME: nonEmpty.optional(),
    TEMPORAL_API_KEY: nonEmpty.optional(),
  })
  .superRefine((v, ctx) => {
    if (Boolean(v.TEMPORAL_TLS_CERT_PATH) !== Boolean(v.TEMPORAL_TLS_KEY_PATH)) {
      ctx.addIssue({
        code: 'custom',
        path: [v.TEMPORAL_TLS_CERT_PATH ? 'TEMPORAL_TLS_KEY_PATH' : 'TEMPORAL_TLS_CERT_PATH'],
        message: 'mTLS needs both TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH',
      });
    }
  })
  .transform((v) => ({
    address: v.TEMPORAL_ADDRESS,
    namespace: v.TEMPORAL_NAMESPACE,
    taskQueue: v.TEMPORAL_TASK_QUEUE,
    // An API key (Temporal Cloud) or a client certificate implies TLS.
    tls: v.TEMPORAL_TLS || Boolean(v.TEMPORAL_API_KEY) || Boolean(v.TEMPORAL_TLS_CERT_PATH),
    clientCertPath: v.TEMPORAL_TLS_CERT_PATH,
    clientKeyPath: v.TEMPORAL_TLS_KEY_PATH,
    serverNameOverride: v.TEMPORAL_TLS_SERVER_NAME,
    apiKey: v.TEMPORAL_API_KEY,
  }));

const mongoSchema = z
  .object({
    MONGODB_URI: z
      .string()
      .trim()
      .regex(/^mongodb(\+srv)?:\/\//, 'must be a mongodb:// or mongodb+srv:// URI'),
    MONGODB_DATABASE: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,63}$/, 'letters, digits, _ and - only')
      .default('klarna_token_sagas'),
  })
  .transform((v) => ({ uri: v.MONGODB_URI, database: v.MONGODB_DATABASE }));

const klarnaSchema = z
  .object({
    KLARNA_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    KLARNA_REGION: z.enum(KlarnaRegion).default('eu'),
    KLARNA_ENVIRONMENT: z.enum(KlarnaEnvironment).default('playground'),
    KLARNA_USERNAME: nonEmpty,
    KLARNA_PASSWORD: nonEmpty,
    KLARNA_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  })
  .transform((v) => ({
    // An explicit base URL (the simulator, a proxy) wins over region + environment.
    baseUrl: (v.KLARNA_BASE_URL ?? klarnaBaseUrl(v.KLARNA_REGION, v.KLARNA_ENVIRONMENT)).replace(/\/+$/, ''),
    username: v.KLARNA_USERNAME,
    password: v.KLARNA_PASSWORD,
    timeoutMs: v.KLARNA_TIMEOUT_MS,
  }));

// What Klarna needs to call us back, and the vault key for customer tokens at rest.
const callbacksSchema = z
  .object({
    PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }),
    CALLBACK_SECRET: z.string().min(16, 'must be at least 16 characters'),
  })
  .transform((v) => ({ publicBaseUrl: v.PUBLIC_BASE_URL.replace(/\/+$/, ''), secret: v.CALLBACK_SECRET }));

const vaultSchema = z
  .object({
    TOKEN_ENCRYPTION_KEY: z
      .string()
      .refine((s) => Buffer.from(s, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)'),
  })
  .transform((v) => ({ encryptionKey: Buffer.from(v.TOKEN_ENCRYPTION_KEY, 'base64') }));

// Workflow history encryption (temporal/payload-codec.ts): `id:base64key,...`, 32-byte keys, the
// first one encrypts, all decrypt. Rotation: put a new key first, keep the old ones.
const payloadKeyId = /^[A-Za-z0-9._-]{1,64}$/;
const payloadCodecSchema = z
  .object({
    PAYLOAD_ENCRYPTION_KEYS: z.string().transform((spec, ctx) => {
      const keys: { id: string; key: Buffer }[] = [];
      spec.split(',').forEach((entry, i) => {
        const [id = '', key = '', ...rest] = entry.trim().split(':');
        const problem = !payloadKeyId.test(id)
          ? 'key id must be 1-64 of A-Z a-z 0-9 . _ -'
          : rest.length || !/^[A-Za-z0-9+/]+={0,2}$/.test(key) || Buffer.from(key, 'base64').length !== 32
            ? 'key must be 32 bytes, base64-encoded (openssl rand -base64 32)'
            : keys.some((k) => k.id === id)
              ? `key id ${id} appears twice`
              : undefined;
        if (problem) ctx.addIssue({ code: 'custom', message: `entry ${i + 1} (<key id>:<base64 key>): ${problem}` });
        else keys.push({ id, key: Buffer.from(key, 'base64') });
      });
      return keys;
    }),
  })
  .transform((v) => ({ keys: v.PAYLOAD_ENCRYPTION_KEYS }));

// Comma-separated browser origins (scheme://host[:port]) allowed to call the codec endpoint: the Temporal UI's.
const origins = z
  .string()
  .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'each origin must be scheme://host[:port], without a path')));

const apiSchema = z
  .object({
    API_HOST: nonEmpty.default('127.0.0.1'),
    API_PORT: port.default(3000),
    API_AUTH_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    CODEC_CORS_ORIGINS: origins.default([]),
  })
  .transform((v) => ({ host: v.API_HOST, port: v.API_PORT, authToken: v.API_AUTH_TOKEN, codecCorsOrigins: v.CODEC_CORS_ORIGINS }));

const loggingSchema = z
  .object({
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .transform((v) => ({ level: v.LOG_LEVEL }));

const flowsSchema = z
  .object({
    FLOW_ABANDONMENT_TIMEOUT: durationMs.default(durationMs.parse('30m')),
  })
  .transform((v) => ({ abandonmentTimeoutMs: v.FLOW_ABANDONMENT_TIMEOUT }));

const sections = {
  temporal: temporalSchema,
  mongo: mongoSchema,
  klarna: klarnaSchema,
  callbacks: callbacksSchema,
  vault: vaultSchema,
  payloadCodec: payloadCodecSchema,
  api: apiSchema,
  logging: loggingSchema,
  flows: flowsSchema,
} as const;

type Sections = typeof sections;
export type SectionName = keyof Sections;
export type Config<K extends SectionName = SectionName> = { [S in K]: z.output<Sections[S]> };
export type TemporalConfig = Config<'temporal'>['temporal'];
export type MongoConfig = Config<'mongo'>['mongo'];
export type KlarnaConfig = Config<'klarna'>['klarna'];
export type CallbacksConfig = Config<'callbacks'>['callbacks'];
export type ApiConfig = Config<'api'>['api'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Parses the named sections from `env`; throws one ConfigError listing every problem. */
export function loadConfig<K extends SectionName>(names: readonly K[], env: Env = process.env): Config<K> {
  // Empty strings mean "not set", as in most shells' `VAR=` usage.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const result = sections[name].safeParse(cleaned);
    if (result.success) out[name] = result.data;
    else {
      for (const issue of result.error.issues) {
        const variable = issue.path.length ? String(issue.path[0]) : name;
        const message = issue.code === 'invalid_type' && cleaned[variable] === undefined ? 'is required' : issue.message;
        problems.push(`${variable}: ${message}`);
      }
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out as Config<K>;
}

/** For process entry points: on bad configuration, print every problem and exit non-zero. */
export function loadConfigOrExit<K extends SectionName>(names: readonly K[], env: Env = process.env): Config<K> {
  try {
    return loadConfig(names, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
