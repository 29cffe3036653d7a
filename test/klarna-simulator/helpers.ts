import { createServer } from 'node:http';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { startKlarnaSimulator, type KlarnaSimulatorOptions } from '../../klarna-simulator/server.js';

// Contract-test helpers: a simulator on an ephemeral port, spoken to over real HTTP with fetch.

export const credentials = { username: 'contract-merchant', password: 'contract-secret' };
export const basicAuth = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;

export type Sim = Awaited<ReturnType<typeof startKlarnaSimulator>>;

export function startSim(options: Partial<KlarnaSimulatorOptions> = {}): Promise<Sim> {
  return startKlarnaSimulator({ ...credentials, port: 0, logger: false, ...options });
}

/**
 * One simulator for a test file: started before all its tests, reset before each, closed after
 * all. Returns a client that is usable once the tests run (the URL is read lazily).
 */
export function useSimulator(options: Partial<KlarnaSimulatorOptions> = {}): Client {
  let sim: Sim | undefined;
  beforeAll(async () => {
    sim = await startSim(options);
  });
  afterAll(() => sim?.close());
  const c = clientFor(() => {
    if (!sim) throw new Error('the simulator is not started yet: use the client inside a test or hook');
    return sim;
  });
  beforeEach(async () => {
    await c.control('POST', '/reset');
  });
  return c;
}

/** A response body as JSON when it parses, else the text (HTML pages, plain errors), else undefined. */
export function parseBody(text: string): any {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  auth: string | null = basicAuth,
): Promise<HttpResult> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(auth ? { authorization: auth } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: parseBody(text), text };
}

/**
 * A Klarna client bound to one simulator (Basic auth on), its controls (no auth), raw calls (no
 * auth unless given) and browser form posts (the shopper's pages).
 */
export function clientFor(simulator: Sim | (() => Sim)) {
  const base = () => (typeof simulator === 'function' ? simulator() : simulator).url;
  return {
    get url() {
      return base();
    },
    klarna: (method: string, path: string, body?: unknown, headers?: Record<string, string>) => call(base(), method, path, body, headers),
    control: (method: string, path: string, body?: unknown) => call(base(), method, `/_sim${path}`, body, {}, null),
    raw: (method: string, path: string, body?: unknown, headers?: Record<string, string>, auth: string | null = null) =>
      call(base(), method, path, body, headers, auth),
    form: (path: string, fields: Record<string, string>) => postForm(base(), path, fields),
  };
}
export type Client = ReturnType<typeof clientFor>;

/** Asserts Klarna's v1 error shape, and that the body's correlation id is the header's. */
export function expectKlarnaError(r: HttpResult, status: number, errorCode: string, messages?: string[]) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  expect(r.body).toMatchObject({ error_code: errorCode, error_messages: expect.any(Array), correlation_id: expect.any(String) });
  expect(r.headers.get('klarna-correlation-id')).toBe(r.body.correlation_id);
  if (messages) expect(r.body.error_messages).toEqual(messages);
}

export function expectCorrelationId(r: HttpResult) {
  expect(r.headers.get('klarna-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
}

export const sessionBody = (overrides: Record<string, unknown> = {}) => ({
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  intent: 'tokenize',
  order_amount: 19900,
  order_tax_amount: 0,
  order_lines: [
    {
      type: 'digital',
      reference: 'coffee-1',
      name: 'Coffee subscription, monthly',
      quantity: 1,
      unit_price: 19900,
      total_amount: 19900,
      subscription: { name: 'Coffee', interval: 'MONTH', interval_count: 1 },
    },
  ],
  billing_address: { given_name: 'Alice', family_name: 'Test', email: 'customer@email.se', postal_code: '11122', country: 'SE' },
  merchant_reference1: 'ref-1',
  ...overrides,
});

export const customerTokenBody = (overrides: Record<string, unknown> = {}) => ({
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Coffee subscription',
  intended_use: 'SUBSCRIPTION',
  ...overrides,
});

export const tokenOrderBody = (overrides: Record<string, unknown> = {}) => ({
  purchase_currency: 'SEK',
  order_amount: 19900,
  order_tax_amount: 0,
  auto_capture: true,
  order_lines: [{ type: 'digital', name: 'Coffee subscription, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
  ...overrides,
});

/** Session → shopper approves → authorization token. */
export async function authorizedSession(c: Client, overrides: Record<string, unknown> = {}, authorize: Record<string, unknown> = {}) {
  const created = await c.klarna('POST', '/payments/v1/sessions', sessionBody(overrides));
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  const approved = await c.control('POST', `/sessions/${created.body.session_id}/authorize`, { outcome: 'approve', ...authorize });
  expect(approved.status, JSON.stringify(approved.body)).toBe(200);
  return { sessionId: created.body.session_id as string, authorizationToken: approved.body.authorization_token as string, created };
}

/** A tokenize flow to the end: an ACTIVE customer token. */
export async function customerToken(c: Client, overrides: Record<string, unknown> = {}, authorize: Record<string, unknown> = {}) {
  const { authorizationToken, sessionId } = await authorizedSession(c, overrides, authorize);
  const r = await c.klarna('POST', `/payments/v1/authorizations/${authorizationToken}/customer-token`, customerTokenBody());
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return { tokenId: r.body.token_id as string, sessionId, authorizationToken };
}

export async function until<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface Received {
  url: string;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  body: any;
  at: number;
}

/** What a receiver answers for the n-th call: a status, optionally after a delay. */
export type ReceiverAnswer = (n: number) => number | { status: number; delayMs?: number };

/**
 * A merchant endpoint on an ephemeral port that records what the simulator POSTs (callbacks,
 * webhooks) and answers as `answer` says for the n-th call (1-based). `path` is appended to the
 * URL it hands out (e.g. a webhook path), so tests can assert the path Klarna called.
 */
export async function startReceiver(answer: ReceiverAnswer = () => 200, path = '') {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, raw, body: parseBody(raw), at: Date.now() });
      const a = answer(received.length);
      const { status, delayMs = 0 } = typeof a === 'number' ? { status: a } : a;
      setTimeout(() => res.writeHead(status).end(), delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * One receiver for a test file: started before all, its records cleared before each test, closed
 * after all. The returned object forwards to it once started.
 */
export function useReceiver(answer: ReceiverAnswer = () => 200, path = ''): Receiver {
  let receiver: Receiver | undefined;
  const current = () => {
    if (!receiver) throw new Error('the receiver is not started yet: use it inside a test or hook');
    return receiver;
  };
  beforeAll(async () => {
    receiver = await startReceiver(answer, path);
  });
  afterAll(() => receiver?.close());
  beforeEach(() => {
    current().received.length = 0;
  });
  return {
    get url() {
      return current().url;
    },
    get received() {
      return current().received;
    },
    close: () => current().close(),
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** The /_sim/callbacks records, optionally of one kind. */
export async function deliveries(c: Client, kind?: string): Promise<any[]> {
  const all = (await c.control('GET', '/callbacks')).body as any[];
  return kind ? all.filter((d) => d.kind === kind) : all;
}

/** Posts an HTML form the way a browser does (no redirect following, so a 303 can be checked). */
export async function postForm(base: string, path: string, fields: Record<string, string>): Promise<HttpResult> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: parseBody(text), text };
}
