import type { Db } from 'mongodb';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import { collections } from '../../persistence/mongo.js';
import { createTokenVault } from '../../persistence/token-vault.js';

// What the chaos cases do as the checkout and as the shopper, over HTTP only, and what they count
// afterwards: flow states from our API, customer tokens at Klarna (the simulator's own records,
// never our logs) and customer tokens stored in MongoDB.

export interface HttpAnswer {
  status: number;
  body: any;
}

/** One HTTP call with a deadline; a network error or timeout is `status: 0` (never throws). */
export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<HttpAnswer> {
  try {
    const response = await fetch(url, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let json: unknown = text;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: json };
  } catch (err) {
    return { status: 0, body: { error: String((err as Error).cause ?? (err as Error).message) } };
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface ChaosFlow {
  index: number;
  idempotencyKey: string;
  flowId: string;
  sessionId: string;
  /** The real authorization, once the shopper approved at Klarna. */
  authorizationToken?: string;
}

export const tokenizationBody = (merchantReference: string, abandonmentTimeout: string) => ({
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
  // Long enough that no flow is abandoned while the suite disrupts and waits.
  abandonment_timeout: abandonmentTimeout,
});

/**
 * Starts `count` tokenizations at once (each with its own Idempotency-Key) and returns them once
 * each has its Klarna session (AWAITING_AUTHORIZATION). Throws if one cannot start: the case
 * would not be testing what it says.
 */
export async function startFlows(apiUrl: string, keyPrefix: string, count: number, abandonmentTimeout = '30m'): Promise<ChaosFlow[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const key = `${keyPrefix}-${String(index + 1).padStart(2, '0')}`;
      let started: HttpAnswer | undefined;
      for (let attempt = 0; attempt < 3; attempt++) {
        started = await http('POST', `${apiUrl}/v1/tokenizations`, tokenizationBody(key, abandonmentTimeout), { 'idempotency-key': key }, 30_000);
        if (started.status === 200 || started.status === 201) break;
        await sleep(1_000);
      }
      if (started?.status !== 200 && started?.status !== 201) {
        throw new Error(`could not start flow ${key}: ${started?.status} ${JSON.stringify(started?.body)}`);
      }
      const flowId: string = started.body.flow_id;
      let sessionId: string | undefined = started.body.session_id;
      const deadline = Date.now() + 60_000;
      while (!sessionId && Date.now() < deadline) {
        await sleep(500);
        const current = await http('GET', `${apiUrl}/v1/tokenizations/${flowId}`);
        sessionId = current.body?.session_id;
        if (current.body?.state && current.body.state !== 'CREATING_SESSION' && !sessionId) {
          throw new Error(`flow ${flowId} ended before its session existed: ${JSON.stringify(current.body)}`);
        }
      }
      if (!sessionId) throw new Error(`flow ${flowId} got no Klarna session within 60 s`);
      return { index, idempotencyKey: key, flowId, sessionId };
    }),
  );
}

/** The shopper approves at Klarna; the simulator then sends the authorization callback (unless told otherwise). */
export async function approve(simulatorUrl: string, flow: ChaosFlow, options: Record<string, unknown> = {}): Promise<string> {
  const answer = await http('POST', `${simulatorUrl}/_sim/sessions/${flow.sessionId}/authorize`, { outcome: 'approve', ...options });
  if (answer.status !== 200 || answer.body?.approved !== true) {
    throw new Error(`the shopper could not approve session ${flow.sessionId}: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  flow.authorizationToken = answer.body.authorization_token as string;
  return flow.authorizationToken;
}

/**
 * What a checkout does with the widget's authorization_token: POST it, and on a 5xx or a network
 * error retry every second (the API's 503 says "retry shortly") until it is taken (202), the flow
 * says it has ended (409), or `untilMs` passes. Returns the last answer.
 */
export async function submitAsCheckout(apiUrl: string, flow: ChaosFlow, authorizationToken: string, untilMs: number): Promise<HttpAnswer> {
  for (;;) {
    const answer = await http('POST', `${apiUrl}/v1/tokenizations/${flow.flowId}/authorization`, {
      authorization_token: authorizationToken,
      session_id: flow.sessionId,
    });
    if ((answer.status !== 0 && answer.status < 500) || Date.now() >= untilMs) return answer;
    await sleep(1_000);
  }
}

const terminal = new Set(['COMPLETED', 'ABANDONED', 'EXPIRED', 'FAILED']);

/**
 * Polls GET /v1/tokenizations/{id} for every flow, every 500 ms, until each is in a terminal
 * state or `timeoutMs` has passed. Returns each flow's last known state ('UNREADABLE' if the API
 * never answered) and its last answer.
 */
export async function settle(apiUrl: string, flows: ChaosFlow[], timeoutMs: number): Promise<Map<string, { state: string; body: any }>> {
  const last = new Map<string, { state: string; body: any }>(flows.map((f) => [f.flowId, { state: 'UNREADABLE', body: undefined }]));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = flows.filter((f) => !terminal.has(last.get(f.flowId)!.state));
    if (open.length === 0) break;
    await Promise.all(
      open.map(async (f) => {
        const answer = await http('GET', `${apiUrl}/v1/tokenizations/${f.flowId}`, undefined, {}, 10_000);
        if (answer.status === 200 && typeof answer.body?.state === 'string') last.set(f.flowId, { state: answer.body.state, body: answer.body });
      }),
    );
    if (Date.now() >= deadline) break;
    await sleep(500);
  }
  return last;
}

export interface KlarnaTokenCount {
  /** Customer tokens Klarna created from this flow's session's authorizations. */
  tokenIds: string[];
  /** Customer-token requests Klarna received for this flow's authorizations (attempts, incl. retries). */
  calls: number;
}

/**
 * Counts at Klarna (the simulator's records): the session's authorizations and the customer token
 * each one produced, and the customer-token requests received for them.
 */
export async function countAtKlarna(simulatorUrl: string, flows: ChaosFlow[]): Promise<Map<string, KlarnaTokenCount>> {
  const requests = await http('GET', `${simulatorUrl}/_sim/requests?method=POST&path_prefix=/payments/v1/authorizations/`);
  if (requests.status !== 200 || !Array.isArray(requests.body)) throw new Error(`cannot read the simulator's request log: ${requests.status}`);
  const tokenCalls = (requests.body as { path: string }[]).filter((r) => r.path.endsWith('/customer-token'));
  const out = new Map<string, KlarnaTokenCount>();
  await Promise.all(
    flows.map(async (f) => {
      const session = await http('GET', `${simulatorUrl}/_sim/sessions/${f.sessionId}`);
      if (session.status !== 200) throw new Error(`cannot read session ${f.sessionId} at the simulator: ${session.status}`);
      const authorizations = (session.body.authorizations ?? []) as { authorization_token: string; customer_token_id?: string }[];
      const tokenIds = authorizations.map((a) => a.customer_token_id).filter((t): t is string => typeof t === 'string');
      const ownTokens = new Set(authorizations.map((a) => a.authorization_token));
      const calls = tokenCalls.filter((r) => ownTokens.has(decodeURIComponent(r.path.split('/')[4] ?? ''))).length;
      out.set(f.flowId, { tokenIds, calls });
    }),
  );
  return out;
}

export interface StoredTokenCount {
  /** Documents in customer_tokens for this flow. */
  documents: number;
  /** The customer tokens they hold, decrypted with the suite's vault key. */
  tokenIds: string[];
}

/** Counts the customer tokens our product stored in MongoDB for each flow (and opens them). */
export async function countStored(db: Db, encryptionKey: Buffer, flows: ChaosFlow[]): Promise<Map<string, StoredTokenCount>> {
  const vault = createTokenVault(encryptionKey);
  const docs = await db
    .collection<CustomerTokenDocument>(collections.customerTokens)
    .find({ flow_id: { $in: flows.map((f) => f.flowId) } })
    .toArray();
  const out = new Map<string, StoredTokenCount>(flows.map((f) => [f.flowId, { documents: 0, tokenIds: [] }]));
  for (const doc of docs) {
    const entry = out.get(doc.flow_id)!;
    entry.documents += 1;
    let opened = '(cannot be opened)';
    try {
      opened = vault.open(doc.token);
    } catch {
      // counted, but it matches no Klarna token
    }
    entry.tokenIds.push(opened);
  }
  return out;
}

export interface CaseFigures {
  name: string;
  flows: number;
  completed: number;
  /** Every flow's final state, counted: e.g. { COMPLETED: 18, FAILED: 2 }. */
  states: Record<string, number>;
  /** Customer tokens created at Klarna for the case's sessions, in all. */
  klarnaTokens: number;
  /** Flows with exactly one customer token at Klarna. */
  flowsWithOneKlarnaToken: number;
  /** Customer-token requests Klarna received (retries included). */
  klarnaTokenCalls: number;
  /** customer_tokens documents for the case's flows, in all. */
  storedTokens: number;
  /** Flows with exactly one stored token, and that token is the one Klarna created for the flow. */
  flowsWithOneStoredToken: number;
  durationMs: number;
  /** Failure kinds of flows that ended otherwise, e.g. { 'FAILED/invalid_operation': 20 }. */
  failures: Record<string, number>;
  notes: string[];
}

export function caseFigures(
  name: string,
  flows: ChaosFlow[],
  settled: Map<string, { state: string; body: any }>,
  atKlarna: Map<string, KlarnaTokenCount>,
  stored: Map<string, StoredTokenCount>,
  startedAt: number,
  notes: string[] = [],
): CaseFigures {
  const states: Record<string, number> = {};
  const failures: Record<string, number> = {};
  let flowsWithOneKlarnaToken = 0;
  let flowsWithOneStoredToken = 0;
  let klarnaTokens = 0;
  let klarnaTokenCalls = 0;
  let storedTokens = 0;
  for (const f of flows) {
    const { state, body } = settled.get(f.flowId)!;
    states[state] = (states[state] ?? 0) + 1;
    if (state !== 'COMPLETED') {
      const why = body?.failure?.kind ? `${state}/${body.failure.kind}` : state;
      failures[why] = (failures[why] ?? 0) + 1;
    }
    const k = atKlarna.get(f.flowId)!;
    const s = stored.get(f.flowId)!;
    klarnaTokens += k.tokenIds.length;
    klarnaTokenCalls += k.calls;
    storedTokens += s.documents;
    if (k.tokenIds.length === 1) flowsWithOneKlarnaToken += 1;
    if (s.documents === 1 && k.tokenIds.length === 1 && s.tokenIds[0] === k.tokenIds[0]) flowsWithOneStoredToken += 1;
  }
  return {
    name,
    flows: flows.length,
    completed: states.COMPLETED ?? 0,
    states,
    klarnaTokens,
    flowsWithOneKlarnaToken,
    klarnaTokenCalls,
    storedTokens,
    flowsWithOneStoredToken,
    durationMs: Date.now() - startedAt,
    failures,
    notes,
  };
}

/** The one line per case the suite prints (and that can be quoted). */
export function figuresLine(f: CaseFigures): string {
  const states = Object.entries(f.states)
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  const failures = Object.keys(f.failures).length
    ? `; not completed: ${Object.entries(f.failures)
        .map(([k, n]) => `${k}×${n}`)
        .join(' ')}`
    : '';
  const notes = f.notes.length ? `; ${f.notes.join('; ')}` : '';
  return (
    `chaos ${f.name}: completed ${f.completed}/${f.flows}, ` +
    `Klarna tokens ${f.klarnaTokens} (exactly one: ${f.flowsWithOneKlarnaToken}/${f.flows} flows; ${f.klarnaTokenCalls} token calls), ` +
    `stored tokens ${f.storedTokens} (exactly one, Klarna's: ${f.flowsWithOneStoredToken}/${f.flows} flows), ` +
    `${(f.durationMs / 1000).toFixed(1)} s [${states}${failures}${notes}]`
  );
}
