import { z } from 'zod';
import { klarnaBaseUrl, KlarnaEnvironment, KlarnaRegion } from '../klarna/base-urls.js';
import { DEV_KEY_MARKER, devPayloadKeyId, knownDevelopmentValues } from './dev-secrets.js';
import { durationMs } from './duration.js';
import { parseSigningKeys } from '../klarna/webhook-signature.js';

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
// CALLBACK_SECRET_PREVIOUS: during a rotation, callbacks of flows started under the previous
// secret still authenticate (SECURITY.md); new flows get URLs under CALLBACK_SECRET only.
const callbacksSchema = z
  .object({
    PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }),
    CALLBACK_SECRET: z.string().min(16, 'must be at least 16 characters'),
    CALLBACK_SECRET_PREVIOUS: z.string().min(16, 'must be at least 16 characters').optional(),
  })
  .transform((v) => ({
    publicBaseUrl: v.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    secret: v.CALLBACK_SECRET,
    previousSecret: v.CALLBACK_SECRET_PREVIOUS,
  }));

// Rotation (SECURITY.md): TOKEN_ENCRYPTION_KEY seals, TOKEN_ENCRYPTION_KEYS_PREVIOUS (comma-separated)
// only open, TOKEN_REFERENCE_KEY (default: TOKEN_ENCRYPTION_KEY) derives the token_refs, so it stays.
const vaultKey = z.string().refine((s) => Buffer.from(s, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)');
const vaultSchema = z
  .object({
    TOKEN_ENCRYPTION_KEY: vaultKey,
    TOKEN_ENCRYPTION_KEYS_PREVIOUS: z
      .string()
      .transform((s) => s.split(',').map((k) => k.trim()).filter(Boolean))
      .pipe(z.array(vaultKey))
      .optional(),
    TOKEN_REFERENCE_KEY: vaultKey.optional(),
  })
  .transform((v) => ({
    encryptionKey: Buffer.from(v.TOKEN_ENCRYPTION_KEY, 'base64'),
    previousKeys: (v.TOKEN_ENCRYPTION_KEYS_PREVIOUS ?? []).map((k) => Buffer.from(k, 'base64')),
    referenceKey: v.TOKEN_REFERENCE_KEY ? Buffer.from(v.TOKEN_REFERENCE_KEY, 'base64') : undefined,
  }));

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

// Bearer tokens for the checkout routes: API_AUTH_TOKEN and/or API_AUTH_TOKENS (comma-separated);
// any of them is accepted, so a new token can be added before the old one is removed.
const authTokens = z
  .string()
  .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(16, 'each token must be at least 16 characters')));
// Requests per minute and key; 0 turns that limit off.
const perMinute = z.coerce.number().int().min(0);
// Fastify's trustProxy: true (any proxy), a hop count, or the proxies' addresses / CIDR ranges.
const trustProxy = z.string().transform((s, ctx): boolean | number | string[] => {
  if (/^(true|1|yes)$/.test(s)) return true;
  if (/^(false|0|no)$/.test(s)) return false;
  if (/^hops:\d{1,2}$/.test(s)) return Number(s.slice(5));
  const entries = s.split(',').map((e) => e.trim()).filter(Boolean);
  if (!entries.length || entries.some((e) => !/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(e))) {
    ctx.addIssue({ code: 'custom', message: 'must be true, false, hops:<n>, or comma-separated proxy addresses / CIDR ranges' });
  }
  return entries;
});

const apiSchema = z
  .object({
    API_HOST: nonEmpty.default('127.0.0.1'),
    API_PORT: port.default(3000),
    API_AUTH_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    API_AUTH_TOKENS: authTokens.optional(),
    /** Also require the bearer token for /docs and /openapi.json, and for /health and /ready. */
    API_DOCS_AUTH: bool.default(false),
    API_HEALTH_AUTH: bool.default(false),
    API_TRUST_PROXY: trustProxy.default(false),
    CODEC_CORS_ORIGINS: origins.default([]),
    RATE_LIMIT_CHECKOUT_PER_MINUTE: perMinute.default(12_000),
    RATE_LIMIT_CALLBACKS_PER_MINUTE: perMinute.default(6_000),
    RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: perMinute.default(600),
  })
  .transform((v) => ({
    host: v.API_HOST,
    port: v.API_PORT,
    authTokens: [...new Set([...(v.API_AUTH_TOKEN ? [v.API_AUTH_TOKEN] : []), ...(v.API_AUTH_TOKENS ?? [])])],
    docsAuth: v.API_DOCS_AUTH,
    healthAuth: v.API_HEALTH_AUTH,
    trustProxy: v.API_TRUST_PROXY,
    codecCorsOrigins: v.CODEC_CORS_ORIGINS,
    rateLimits: {
      checkoutPerMinute: v.RATE_LIMIT_CHECKOUT_PER_MINUTE,
      callbacksPerMinute: v.RATE_LIMIT_CALLBACKS_PER_MINUTE,
      unauthenticatedPerMinute: v.RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE,
    },
  }))
  .superRefine((v, ctx) => {
    for (const [flag, on] of [['API_DOCS_AUTH', v.docsAuth], ['API_HEALTH_AUTH', v.healthAuth]] as const) {
      if (on && !v.authTokens.length) ctx.addIssue({ code: 'custom', path: [flag], message: 'needs API_AUTH_TOKEN or API_AUTH_TOKENS' });
    }
  });

const loggingSchema = z
  .object({
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .transform((v) => ({ level: v.LOG_LEVEL }));

// Metrics and traces (docs/performance.md, "Metrics and traces"). WORKER_METRICS_ADDRESS: where the
// worker serves Temporal's Prometheus metrics (host:port; unset = off; `npm run dev` sets
// 127.0.0.1:9464). OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP/HTTP collector spans are sent to
// (<endpoint>/v1/traces; unset = tracing off, no interceptors). OTEL_SERVICE_NAME: the spans'
// service.name (default klarna-token-sagas-api / -worker).
const telemetrySchema = z
  .object({
    WORKER_METRICS_ADDRESS: z
      .string()
      .trim()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9464')
      .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be 0-65535')
      .optional(),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    OTEL_SERVICE_NAME: nonEmpty.optional(),
  })
  .transform((v) => ({ workerMetricsAddress: v.WORKER_METRICS_ADDRESS, otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: v.OTEL_SERVICE_NAME }));

// The worker's workflow cache: flows kept in memory between their tasks (sticky execution). Each
// costs worker memory while it waits; an evicted flow replays its history at its next task.
// Bounded so thousands of waiting flows do not grow the worker without limit (docs/performance.md,
// "Many waiting flows"); 0 turns the cache off.
const workerSchema = z
  .object({
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(1_000_000).default(1_000),
  })
  .transform((v) => ({ maxCachedWorkflows: v.WORKER_MAX_CACHED_WORKFLOWS }));

const flowsSchema = z
  .object({
    FLOW_ABANDONMENT_TIMEOUT: durationMs.default(durationMs.parse('30m')),
  })
  .transform((v) => ({ abandonmentTimeoutMs: v.FLOW_ABANDONMENT_TIMEOUT }));

// KLARNA_SIMULATOR_URL (set by `npm run dev` when it runs the simulator): the API serves the demo
// checkout (/demo/checkout) on it. Development only: production mode refuses it (productionRules).
const demoSchema = z
  .object({ KLARNA_SIMULATOR_URL: z.url({ protocol: /^https?$/ }).optional() })
  .transform((v) => ({ simulatorUrl: v.KLARNA_SIMULATOR_URL?.replace(/\/+$/, '') }));

// Outbound webhooks to the merchant (subscription and renewal events): where, and signed with what.
// Several secrets during a rotation: the first signs, every one is sent (docs/flows.md).
const commaList = z
  .string()
  .transform((v) => v.split(',').map((item) => item.trim()).filter(Boolean));
const merchantWebhooksSchema = z
  .object({
    MERCHANT_WEBHOOK_URLS: commaList
      .pipe(z.array(z.url({ protocol: /^https?$/ }).max(2000)).max(10, 'at most 10 endpoints'))
      .default([]),
    MERCHANT_WEBHOOK_SECRETS: commaList.pipe(z.array(z.string().min(16, 'each secret must be at least 16 characters')).max(5)).default([]),
  })
  .superRefine((v, ctx) => {
    if (v.MERCHANT_WEBHOOK_URLS.length > 0 && v.MERCHANT_WEBHOOK_SECRETS.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['MERCHANT_WEBHOOK_SECRETS'], message: 'is required when MERCHANT_WEBHOOK_URLS is set (events are signed)' });
    }
  })
  .transform((v) => ({ urls: v.MERCHANT_WEBHOOK_URLS, secrets: v.MERCHANT_WEBHOOK_SECRETS }));

// Klarna v2 (Payment Authorize / Payment Request APIs, seeds 002/003), for the worker. Hosts per
// facts §4; KLARNA_BASE_URL (the simulator, a proxy) serves v2 too unless KLARNA_V2_BASE_URL is set.
// Credentials: KLARNA_V2_API_KEY, else the v1 username and password.
const klarnaV2Schema = z
  .object({
    KLARNA_V2_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    KLARNA_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    KLARNA_ENVIRONMENT: z.enum(KlarnaEnvironment).default('playground'),
    KLARNA_V2_API_KEY: nonEmpty.optional(),
    KLARNA_USERNAME: nonEmpty.optional(),
    KLARNA_PASSWORD: nonEmpty.optional(),
    KLARNA_PARTNER_ACCOUNT_ID: nonEmpty.default('krn:partner:global:account:test:MERCHANT'),
    KLARNA_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  })
  .transform((v) => ({
    baseUrl: (v.KLARNA_V2_BASE_URL ?? v.KLARNA_BASE_URL ?? (v.KLARNA_ENVIRONMENT === 'production' ? 'https://api-global.klarna.com' : 'https://api-global.test.klarna.com')).replace(/\/+$/, ''),
    apiKey: v.KLARNA_V2_API_KEY,
    username: v.KLARNA_USERNAME,
    password: v.KLARNA_PASSWORD,
    partnerAccountId: v.KLARNA_PARTNER_ACCOUNT_ID,
    timeoutMs: v.KLARNA_TIMEOUT_MS,
  }));

// Klarna v2 webhooks, for the API: the signing keys (`<key id>:<key>,…`; several during a rotation,
// each chosen by Klarna-Signing-Key-Id). None: every webhook is refused (401) and v2 flows learn
// the outcome by reading the payment request, after KLARNA_WEBHOOK_FALLBACK_READ_AFTER.
const klarnaWebhooksSchema = z
  .object({
    KLARNA_WEBHOOK_SIGNING_KEYS: z
      .string()
      .transform((spec, ctx) => {
        const { keys, problems } = parseSigningKeys(spec);
        for (const problem of problems) ctx.addIssue({ code: 'custom', message: problem });
        return keys;
      })
      .optional(),
    KLARNA_WEBHOOK_FALLBACK_READ_AFTER: durationMs.refine((ms) => ms >= 1_000 && ms <= 3_600_000, 'must be between 1s and 1h').default(durationMs.parse('15s')),
  })
  .transform((v) => ({ signingKeys: v.KLARNA_WEBHOOK_SIGNING_KEYS ?? [], fallbackReadAfterMs: v.KLARNA_WEBHOOK_FALLBACK_READ_AFTER }));

// Production mode: APP_ENV=production, or NODE_ENV=production when APP_ENV is not set (an explicit
// APP_ENV=development wins). Development needs no configuration at all; production refuses to
// start on anything only a development setup should have (productionRules below, SECURITY.md).
const appSchema = z
  .object({
    APP_ENV: z.enum(['development', 'production']).optional(),
    NODE_ENV: z.string().optional(),
  })
  .transform((v) => {
    const mode = v.APP_ENV ?? (v.NODE_ENV === 'production' ? 'production' : 'development');
    return { mode, production: mode === 'production', modeSource: v.APP_ENV ? `APP_ENV=${v.APP_ENV}` : v.NODE_ENV === 'production' ? 'NODE_ENV=production' : 'default' };
  });

const sections = {
  app: appSchema,
  temporal: temporalSchema,
  mongo: mongoSchema,
  klarna: klarnaSchema,
  callbacks: callbacksSchema,
  vault: vaultSchema,
  payloadCodec: payloadCodecSchema,
  api: apiSchema,
  logging: loggingSchema,
  telemetry: telemetrySchema,
  worker: workerSchema,
  flows: flowsSchema,
  demo: demoSchema,
  merchantWebhooks: merchantWebhooksSchema,
  klarnaV2: klarnaV2Schema,
  klarnaWebhooks: klarnaWebhooksSchema,
} as const;

type Sections = typeof sections;
export type SectionName = keyof Sections;
export type Config<K extends SectionName = SectionName> = { [S in K]: z.output<Sections[S]> };
export type TemporalConfig = Config<'temporal'>['temporal'];
export type MongoConfig = Config<'mongo'>['mongo'];
export type KlarnaConfig = Config<'klarna'>['klarna'];
export type CallbacksConfig = Config<'callbacks'>['callbacks'];
export type ApiConfig = Config<'api'>['api'];
export type AppConfig = Config<'app'>['app'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

// ---- Production posture ------------------------------------------------------------------------
// Checked on the raw values, after the sections' own parsing, so one message names every problem;
// a value the section already refused (malformed) is not judged again here.

const loopbackHost = (host: string) => /^127(\.\d{1,3}){3}$/.test(host) || ['localhost', '::1', '[::1]', '::ffff:127.0.0.1'].includes(host);
const known = (variable: string, value: string) => (knownDevelopmentValues[variable] ?? []).includes(value);
const decodedKey = (base64: string) => (/^[A-Za-z0-9+/]+={0,2}$/.test(base64) ? Buffer.from(base64, 'base64') : undefined);

/** Why a 32-byte encryption key is unfit for production, if it is. */
function weakKey(variable: string, base64: string, key: Buffer): string | undefined {
  if (known(variable, base64)) return 'is a known development value (docker-compose.yml or a test key)';
  if (key.subarray(0, DEV_KEY_MARKER.length).equals(DEV_KEY_MARKER)) return 'is a development key (made by npm run dev)';
  if (key.every((b) => b === 0)) return 'is all zeros';
  // 32 random bytes have ~31 distinct values and are almost never all printable (p < 1e-13).
  if (new Set(key).size < 16) return 'is not random (too few distinct bytes)';
  if (key.every((b) => b >= 0x20 && b < 0x7f)) return 'is text, not random bytes';
  return undefined;
}

/** Why a shared secret or bearer token is unfit for production, if it is. */
function weakSecret(variable: string, value: string): string | undefined {
  if (known(variable, value) || /not-for-production|compose-dev|^dev-/i.test(value)) return 'is a development value';
  if (new Set(value).size < 8) return 'is not random (too few distinct characters)';
  return undefined;
}

const fix = { key: 'make a key with `openssl rand -base64 32`', secret: 'make a secret with `openssl rand -base64 32`' };

const productionRules: Partial<Record<SectionName, (env: Env) => string[]>> = {
  callbacks: (env) => {
    const problems: string[] = [];
    if (env.PUBLIC_BASE_URL && /^http:/i.test(env.PUBLIC_BASE_URL)) {
      problems.push('PUBLIC_BASE_URL: must be https:// (Klarna posts authorization tokens and the callback secret to it)');
    }
    for (const variable of ['CALLBACK_SECRET', 'CALLBACK_SECRET_PREVIOUS']) {
      const value = env[variable];
      const weak = value && value.length >= 16 ? weakSecret('CALLBACK_SECRET', value) : undefined;
      if (weak) problems.push(`${variable}: ${weak}; ${fix.secret}`);
    }
    return problems;
  },
  vault: (env) =>
    ['TOKEN_ENCRYPTION_KEY', 'TOKEN_ENCRYPTION_KEYS_PREVIOUS', 'TOKEN_REFERENCE_KEY'].flatMap((variable) =>
      (env[variable] ?? '').split(',').flatMap((value) => {
        const key = decodedKey(value.trim());
        const weak = key?.length === 32 ? weakKey('TOKEN_ENCRYPTION_KEY', value.trim(), key) : undefined;
        return weak ? [`${variable}: ${weak}; ${fix.key}`] : [];
      }),
    ),
  payloadCodec: (env) =>
    (env.PAYLOAD_ENCRYPTION_KEYS ?? '').split(',').flatMap((entry, i) => {
      const [id = '', value = ''] = entry.trim().split(':');
      const key = decodedKey(value);
      if (key?.length !== 32) return [];
      const weak = weakKey('PAYLOAD_ENCRYPTION_KEYS', value, key) ?? (devPayloadKeyId.test(id) ? 'is named as a development key' : undefined);
      return weak ? [`PAYLOAD_ENCRYPTION_KEYS: entry ${i + 1} (${id}) ${weak}; ${fix.key}`] : [];
    }),
  api: (env) => {
    const problems: string[] = [];
    const tokens = [env.API_AUTH_TOKEN, ...(env.API_AUTH_TOKENS ?? '').split(',')].map((t) => t?.trim()).filter((t): t is string => Boolean(t));
    const host = env.API_HOST ?? '127.0.0.1';
    if (!tokens.length && !loopbackHost(host)) {
      problems.push(`API_HOST: the API listens on ${host}, beyond loopback, without authentication; set API_AUTH_TOKEN or API_AUTH_TOKENS`);
    }
    for (const token of tokens) {
      const weak = token.length >= 16 ? weakSecret('API_AUTH_TOKEN', token) : undefined;
      if (weak) problems.push(`${env.API_AUTH_TOKEN?.trim() === token ? 'API_AUTH_TOKEN' : 'API_AUTH_TOKENS'}: a token ${weak}; ${fix.secret}`);
    }
    const plain = (env.CODEC_CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter((o) => /^http:/i.test(o));
    if (plain.length) problems.push(`CODEC_CORS_ORIGINS: ${plain.join(', ')} must be https:// (the codec endpoint decrypts workflow history)`);
    return problems;
  },
  demo: (env) => (env.KLARNA_SIMULATOR_URL ? ['KLARNA_SIMULATOR_URL: the demo checkout and the Klarna simulator are for development only; unset it'] : []),
  klarnaWebhooks: (env) =>
    parseSigningKeys(env.KLARNA_WEBHOOK_SIGNING_KEYS ?? '').keys.flatMap((k) =>
      known('KLARNA_WEBHOOK_SIGNING_KEYS', k.key) ? [`KLARNA_WEBHOOK_SIGNING_KEYS: key ${k.id} is npm run dev's development key; use the signing key Klarna gave you`] : [],
    ),
  klarna: (env) => {
    const problems: string[] = [];
    if (env.KLARNA_BASE_URL && /^http:/i.test(env.KLARNA_BASE_URL)) problems.push('KLARNA_BASE_URL: must be https:// (it carries the Klarna credentials)');
    for (const variable of ['KLARNA_USERNAME', 'KLARNA_PASSWORD']) {
      const value = env[variable]?.trim();
      if (value && known(variable, value)) problems.push(`${variable}: is the Klarna simulator's, a development value`);
    }
    return problems;
  },
};

/** Parses the named sections from `env`; throws one ConfigError listing every problem. */
export function loadConfig<K extends SectionName>(names: readonly K[], env: Env = process.env): Config<K> {
  // Empty strings mean "not set", as in most shells' `VAR=` usage.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  const app = appSchema.safeParse(cleaned);
  if (!app.success) problems.push(...app.error.issues.map((issue) => `${String(issue.path[0] ?? 'APP_ENV')}: ${issue.message}`));
  else if (app.data.production) {
    const rules = names.flatMap((name) => productionRules[name]?.(cleaned) ?? []);
    problems.push(...rules.map((p) => `${p} (production mode, ${app.data.modeSource})`));
  }
  for (const name of names) {
    if (name === 'app' && !app.success) continue;
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
