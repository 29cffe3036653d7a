import { inject } from 'vitest';
import { vaultSimulatorToken } from '../../stack/vaulted-token.js';
import { startInProcessApp, type InProcessApp, type InProcessAppOptions } from '../../stack/in-process-app.js';

export { simulatorCredentials } from '../../stack/in-process-app.js';
export type AppStack = InProcessApp;

/** The in-process app (stack/in-process-app.ts) on the suite's Temporal dev server and FerretDB. */
export function startAppStack(options: Omit<InProcessAppOptions, 'temporalAddress' | 'mongoUri'> = {}): Promise<AppStack> {
  return startInProcessApp({ ...options, temporalAddress: inject('temporalAddress'), mongoUri: inject('mongoUri') });
}

export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, body: json };
}

/** Polls until `check` returns a value, for state that settles asynchronously (signals, visibility). */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export const tokenizationBody = (merchantReference: string, overrides: object = {}) => ({
  merchant_reference: merchantReference,
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Coffee subscription',
  order_lines: [
    {
      type: 'digital',
      name: 'Coffee subscription, monthly',
      quantity: 1,
      unit_price: 19900,
      total_amount: 19900,
      subscription: { name: 'Coffee', interval: 'MONTH', interval_count: 1 },
    },
  ],
  billing_address: { given_name: 'Alice', family_name: 'Test', email: 'customer@email.se', country: 'SE' },
  ...overrides,
});

/**
 * A customer token made at the simulator (`POST /_sim/tokens`, SE/SEK) and vaulted as a tokenize
 * flow would have stored it: for tests of what happens after tokenization (charges, subscriptions,
 * step-up). Returns the vault reference and the raw token (for simulator controls only).
 */
export const vaultedToken = (stack: Pick<AppStack, 'simulatorUrl' | 'vault' | 'mongo'>): Promise<{ tokenRef: string; token: string }> =>
  vaultSimulatorToken(stack.simulatorUrl, stack.vault, stack.mongo.db);
