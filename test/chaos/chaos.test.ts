import { randomUUID } from 'node:crypto';
import { MongoClient, type Db } from 'mongodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startKlarnaSimulator, type KlarnaSimulator } from '../../klarna-simulator/server.js';
import type { KlarnaEventDocument } from '../../persistence/klarna-events-repository.js';
import { collections } from '../../persistence/mongo.js';
import { createTokenVault } from '../../persistence/token-vault.js';
import { killChildrenOnSignals } from '../../stack/child-processes.js';
import { getFreePort } from '../../stack/ports.js';
import { startChaosStack, type ChaosStack } from '../harness/chaos-stack.js';
import {
  approve,
  caseFigures,
  countAtKlarna,
  countStored,
  figuresLine,
  http,
  settle,
  sleep,
  startFlows,
  submitAsCheckout,
  type CaseFigures,
  type ChaosFlow,
} from './chaos-flows.js';

// The chaos suite (`npm run test:chaos`; also a step of .ci/run). The product runs as it is
// deployed: the worker and the API as separate OS processes configured by environment variables,
// the real Temporal dev server and FerretDB (test/harness/chaos-stack.ts), and the Klarna
// simulator over HTTP. Each case runs FLOWS tokenizations at once through one disruption:
//
//   (a) the worker is SIGKILLed while its customer-token calls are in flight at Klarna
//       (Klarna has created the tokens and holds the answers), then a new worker starts;
//   (b) Klarna creates each flow's customer token but the reply is lost on the way back;
//   (c) Temporal is down for CHAOS_TEMPORAL_DOWN_MS (60 s) while the shoppers approve: Klarna's
//       authorization callbacks reach the API, which must store and acknowledge them and hand
//       them to the flows once Temporal is back. Nothing else tells the flows (no checkout
//       submission), so the callbacks alone must carry the authorization;
//   (d) FerretDB is down for CHAOS_FERRETDB_DOWN_MS (15 s) while the shoppers approve: the
//       callbacks arrive during the outage and must get a quick 503 (Klarna retries). Klarna
//       gives up after 3 attempts within a few seconds (+1 s, +2 s), so here the checkout also
//       submits the authorization_token and, like any checkout told "503, retry shortly",
//       retries every second until the API takes it;
//   (e) the checkout first submits a bogus authorization_token for the flow's session, then the
//       shopper really approves (Klarna's callback brings the real one);
//   (f) token charges: Klarna places each order but holds the answer; the worker is SIGKILLed
//       before it could store anything; a new worker must finish every charge with the one order
//       Klarna placed (the charge id is the Klarna-Idempotency-Key).
//
// Required of every case (the issue): FLOWS/FLOWS flows COMPLETED, exactly one customer token at
// Klarna per flow (counted at the simulator), exactly one token stored per flow in MongoDB (and it
// is the one Klarna created). Each case prints one line of figures; the suite prints them all again
// at the end. Cases run one after the other; the flows of a case run concurrently.
//
// Settings (environment): CHAOS_FLOWS (20), CHAOS_TEMPORAL_DOWN_MS (60000), CHAOS_FERRETDB_DOWN_MS
// (15000), CHAOS_SETTLE_TIMEOUT_MS (90000: how long flows get to finish after a disruption ends),
// CHAOS_ECHO=true (print every process's output), CHAOS_KEEP_DATA=true (keep the temporary
// directory with the processes' logs; it is kept anyway when a case fails).

const envInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name}=${raw} must be a non-negative integer`);
  return value;
};

const FLOWS = envInt('CHAOS_FLOWS', 20);
const TEMPORAL_DOWN_MS = envInt('CHAOS_TEMPORAL_DOWN_MS', 60_000);
const FERRETDB_DOWN_MS = envInt('CHAOS_FERRETDB_DOWN_MS', 15_000);
const SETTLE_MS = envInt('CHAOS_SETTLE_TIMEOUT_MS', 90_000);
/** Room for starting flows, restarts and counting, on top of a case's own waits. */
const CASE_OVERHEAD_MS = 150_000;

const klarnaCredentials = { username: 'chaos-merchant', password: 'chaos-secret' };
const TOKEN_CALLS = '/payments/v1/authorizations/*/customer-token';
const runId = `chaos-${randomUUID().slice(0, 6)}`;

let simulator: KlarnaSimulator;
let stack: ChaosStack;
let mongo: MongoClient;
let db: Db;
let anyFailed = false;
const figures: CaseFigures[] = [];
/** The (c) and (d) follow-up checks' figures, for the summary. */
const extraLines: string[] = [];
/** Unexpected worker/API exits before the current case, to report the case's own. */
let exitsBefore = { worker: 0, api: 0 };

const sim = (method: string, path: string, body?: unknown) => http(method, `${simulator.url}${path}`, body);

async function simControl(method: string, path: string, body?: unknown) {
  const answer = await sim(method, path, body);
  if (answer.status >= 300 || answer.status === 0) throw new Error(`simulator ${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** Customer-token requests Klarna has received for these flows' authorizations. */
async function tokenCallsFor(flows: ChaosFlow[]): Promise<{ status: number | null; fault?: string; path: string }[]> {
  const tokens = new Set(flows.map((f) => f.authorizationToken).filter(Boolean));
  const log = (await simControl('GET', '/_sim/requests?method=POST&path_prefix=/payments/v1/authorizations/')) as {
    path: string;
    status: number | null;
    fault?: string;
  }[];
  return log.filter((r) => r.path.endsWith('/customer-token') && tokens.has(decodeURIComponent(r.path.split('/')[4] ?? '')));
}

/** Supervised restarts of the worker and the API since the case began (crashes, exits on lost connections). */
function restartNotes(): string[] {
  const notes: string[] = [];
  for (const p of [stack.worker, stack.api]) {
    const own = p.unexpectedExits.slice(exitsBefore[p.name as 'worker' | 'api']);
    if (own.length) notes.push(`${p.name} exited on its own ${own.length}× (${[...new Set(own)].join(', ')}) and was restarted`);
  }
  return notes;
}

/** Waits for the flows, counts at Klarna and in MongoDB, prints the case's line. */
async function finishCase(name: string, flows: ChaosFlow[], startedAt: number, notes: string[]): Promise<CaseFigures> {
  const settled = await settle(stack.apiUrl, flows, SETTLE_MS);
  const atKlarna = await countAtKlarna(simulator.url, flows);
  const stored = await countStored(db, stack.encryptionKey, flows);
  const f = caseFigures(name, flows, settled, atKlarna, stored, startedAt, [...notes, ...restartNotes()]);
  figures.push(f);
  console.log(figuresLine(f));
  return f;
}

/** The issue's three requirements, in one comparison so a failure shows all three figures. */
function expectEveryFlowTokenizedOnce(f: CaseFigures) {
  expect(
    { completed: f.completed, flowsWithOneKlarnaToken: f.flowsWithOneKlarnaToken, flowsWithOneStoredToken: f.flowsWithOneStoredToken },
    figuresLine(f),
  ).toEqual({ completed: FLOWS, flowsWithOneKlarnaToken: FLOWS, flowsWithOneStoredToken: FLOWS });
}

const countBy = <T>(items: T[], key: (item: T) => string): Record<string, number> =>
  items.reduce<Record<string, number>>((acc, item) => ((acc[key(item)] = (acc[key(item)] ?? 0) + 1), acc), {});
const show = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([k, n]) => `${k}×${n}`)
    .join(' ') || 'none';

beforeAll(async () => {
  killChildrenOnSignals();
  simulator = await startKlarnaSimulator({ ...klarnaCredentials, port: await getFreePort(), logger: false });
  stack = await startChaosStack({
    klarnaBaseUrl: simulator.url,
    klarnaUsername: klarnaCredentials.username,
    klarnaPassword: klarnaCredentials.password,
    echo: process.env.CHAOS_ECHO === 'true',
  });
  mongo = new MongoClient(stack.mongoUri, { serverSelectionTimeoutMS: 10_000 });
  db = mongo.db(stack.database);
  console.log(
    `chaos stack: API ${stack.apiUrl}, Temporal ${stack.temporalAddress}, FerretDB ${stack.mongoUri}, Klarna simulator ${simulator.url}; ` +
      `${FLOWS} flows per case; data and logs in ${stack.dir}`,
  );
}, 300_000);

afterAll(async () => {
  if (figures.length) {
    const lines = [...figures.map((f) => figuresLine(f)), ...extraLines];
    console.log(`\nchaos figures (${FLOWS} flows per case):\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
  const keepDir = anyFailed || process.env.CHAOS_KEEP_DATA === 'true';
  await mongo?.close().catch(() => undefined);
  await stack?.stop({ keepDir });
  await simulator?.close();
  if (keepDir && stack) console.log(`chaos: processes' logs kept in ${stack.dir}/logs`);
}, 120_000);

beforeEach(async () => {
  // Each case starts from a healthy stack and a Klarna without leftover faults or delivery rules.
  await simControl('DELETE', '/_sim/faults');
  await simControl('DELETE', '/_sim/callbacks/scenario');
  await stack.ensureUp();
  exitsBefore = { worker: stack.worker.unexpectedExits.length, api: stack.api.unexpectedExits.length };
}, 300_000);

afterEach((context) => {
  if (context.task.result?.state === 'fail') anyFailed = true;
});

describe('chaos: tokenize flows through real process failures', () => {
  it(
    '(a) worker SIGKILL during token creation',
    async () => {
      const startedAt = Date.now();
      const flows = await startFlows(stack.apiUrl, `${runId}-a`, FLOWS);
      // Klarna creates each token at once but holds the answer for 20 s: the calls are in flight.
      await simControl('POST', '/_sim/faults', { path: TOKEN_CALLS, method: 'POST', phase: 'after', latencyMs: 20_000 });
      await Promise.all(flows.map((f) => approve(simulator.url, f)));

      // Flows with a token call still unanswered at Klarna, by authorization token.
      const pendingFlows = async () =>
        new Set((await tokenCallsFor(flows)).filter((c) => c.status === null).map((c) => c.path)).size;
      const deadline = Date.now() + 30_000;
      let inFlight = await pendingFlows();
      while (inFlight < FLOWS && Date.now() < deadline) {
        await sleep(200);
        inFlight = await pendingFlows();
      }
      const pid = stack.worker.pid();
      await stack.worker.kill();
      await simControl('DELETE', '/_sim/faults');
      await stack.worker.start();

      const f = await finishCase('(a) worker SIGKILL during token creation', flows, startedAt, [
        `${inFlight}/${FLOWS} token calls in flight at Klarna when worker pid ${pid} got SIGKILL`,
      ]);
      expectEveryFlowTokenizedOnce(f);
      // The disruption itself: every flow's token call was in flight when the worker died.
      expect(inFlight, 'token calls in flight at the SIGKILL').toBe(FLOWS);
    },
    SETTLE_MS + CASE_OVERHEAD_MS,
  );

  it(
    '(b) a dropped Klarna reply',
    async () => {
      const startedAt = Date.now();
      const flows = await startFlows(stack.apiUrl, `${runId}-b`, FLOWS);
      // Hold the callbacks until every flow's first token call is set to lose its reply.
      await simControl('POST', '/_sim/callbacks/scenario', { kind: 'authorization', hold: true, count: FLOWS });
      await Promise.all(flows.map((f) => approve(simulator.url, f)));
      for (const f of flows) {
        await simControl('POST', '/_sim/faults', {
          path: `/payments/v1/authorizations/${f.authorizationToken}/customer-token`,
          method: 'POST',
          phase: 'after',
          drop: true,
          count: 1,
        });
      }
      await simControl('POST', '/_sim/callbacks/release', {});

      const f = await finishCase('(b) dropped Klarna reply', flows, startedAt, []);
      const dropped = (await tokenCallsFor(flows)).filter((c) => c.fault === 'drop-after').length;
      f.notes.unshift(`${dropped}/${FLOWS} token replies dropped after Klarna processed them`);
      console.log(`  ${f.notes[0]}`);
      expectEveryFlowTokenizedOnce(f);
      expect(dropped, 'token calls whose reply was lost').toBe(FLOWS);
    },
    SETTLE_MS + CASE_OVERHEAD_MS,
  );

  describe('(c) Temporal down while shoppers approve', () => {
    let flows: ChaosFlow[] = [];
    let figuresC: CaseFigures | undefined;

    it(
      `(c) Temporal down ${Math.round(TEMPORAL_DOWN_MS / 1000)} s while shoppers approve`,
      async () => {
        const startedAt = Date.now();
        flows = await startFlows(stack.apiUrl, `${runId}-c`, FLOWS);
        await stack.temporal.stop();
        const downAt = Date.now();
        await Promise.all(flows.map((f) => approve(simulator.url, f)));
        await sleep(Math.max(0, downAt + TEMPORAL_DOWN_MS - Date.now()));
        await stack.temporal.start();
        const downFor = Date.now() - downAt;

        figuresC = await finishCase(`(c) Temporal down ${Math.round(TEMPORAL_DOWN_MS / 1000)} s while shoppers approve`, flows, startedAt, [
          `Temporal unreachable for ${(downFor / 1000).toFixed(1)} s`,
        ]);
        expectEveryFlowTokenizedOnce(figuresC);
      },
      TEMPORAL_DOWN_MS + SETTLE_MS + CASE_OVERHEAD_MS,
    );

    it('(c) the callbacks were stored and acknowledged while Temporal was down', async () => {
      expect(flows.length, 'the case above ran').toBe(FLOWS);
      const sessions = new Set(flows.map((f) => f.sessionId));
      const deliveries = ((await simControl('GET', '/_sim/callbacks')) as { kind: string; body: { session_id?: string }; state: string; duplicate_of?: string }[]).filter(
        (d) => d.kind === 'authorization' && !d.duplicate_of && sessions.has(d.body.session_id ?? ''),
      );
      // Flows with their callback stored (the event id is per session + token, so one each).
      const stored = (
        await db.collection<KlarnaEventDocument>(collections.klarnaEvents).distinct('flow_id', { flow_id: { $in: flows.map((f) => f.flowId) } })
      ).length;
      const line = `callbacks acknowledged: ${show(countBy(deliveries, (d) => d.state))}; stored events: ${stored}`;
      console.log(`  (c) ${line}`);
      extraLines.push(`(c) ${line}`);
      expect({ callbacks: deliveries.length, delivered: deliveries.filter((d) => d.state === 'delivered').length, stored }, line).toEqual({
        callbacks: FLOWS,
        delivered: FLOWS,
        stored: FLOWS,
      });
    });
  });

  describe('(d) FerretDB down while callbacks arrive', () => {
    let flows: ChaosFlow[] = [];
    let restartBeganAt = 0;

    it(
      `(d) FerretDB down ${Math.round(FERRETDB_DOWN_MS / 1000)} s while callbacks arrive`,
      async () => {
        const startedAt = Date.now();
        flows = await startFlows(stack.apiUrl, `${runId}-d`, FLOWS);
        await stack.ferretdb.stop();
        const downAt = Date.now();
        // The shopper approves (Klarna calls back during the outage); the checkout posts the token
        // it got from the widget and retries while the API answers 5xx.
        const submissions = Promise.all(
          flows.map(async (f) => submitAsCheckout(stack.apiUrl, f, await approve(simulator.url, f), downAt + FERRETDB_DOWN_MS + SETTLE_MS)),
        );
        await sleep(Math.max(0, downAt + FERRETDB_DOWN_MS - Date.now()));
        restartBeganAt = Date.now();
        await stack.ferretdb.start();
        const downFor = Date.now() - downAt;

        const f = await finishCase(`(d) FerretDB down ${Math.round(FERRETDB_DOWN_MS / 1000)} s while callbacks arrive`, flows, startedAt, [
          `FerretDB unreachable for ${(downFor / 1000).toFixed(1)} s`,
        ]);
        const answers = await submissions;
        f.notes.unshift(`checkout submissions finally answered ${show(countBy(answers, (a) => String(a.status)))}`);
        console.log(`  ${f.notes[0]}`);
        expectEveryFlowTokenizedOnce(f);
      },
      FERRETDB_DOWN_MS + 2 * SETTLE_MS + CASE_OVERHEAD_MS,
    );

    it('(d) callbacks during the outage were answered 503 within Klarna’s 2 s timeout', async () => {
      expect(flows.length, 'the case above ran').toBe(FLOWS);
      const sessions = new Set(flows.map((f) => f.sessionId));
      const deliveries = ((await simControl('GET', '/_sim/callbacks')) as {
        kind: string;
        body: { session_id?: string };
        attempts: { at: string; status?: number; error?: string }[];
      }[]).filter((d) => d.kind === 'authorization' && sessions.has(d.body.session_id ?? ''));
      const duringOutage = deliveries.flatMap((d) => d.attempts).filter((a) => Date.parse(a.at) < restartBeganAt);
      const answers = countBy(duringOutage, (a) => (a.status !== undefined ? String(a.status) : a.error?.startsWith('timeout') ? 'timeout' : 'error'));
      const line = `callback attempts while FerretDB was down: ${show(answers)}`;
      console.log(`  (d) ${line}`);
      extraLines.push(`(d) ${line}`);
      expect(duringOutage.length, 'callback attempts while FerretDB was down').toBeGreaterThanOrEqual(FLOWS);
      expect(answers, line).toEqual({ '503': duringOutage.length });
    });
  });

  it(
    '(e) a bogus authorization before the real one',
    async () => {
      const startedAt = Date.now();
      const flows = await startFlows(stack.apiUrl, `${runId}-e`, FLOWS);
      const bogus = new Map(flows.map((f) => [f.flowId, `bogus-${randomUUID()}`]));
      const bogusAnswers = await Promise.all(
        flows.map((f) =>
          http('POST', `${stack.apiUrl}/v1/tokenizations/${f.flowId}/authorization`, { authorization_token: bogus.get(f.flowId), session_id: f.sessionId }),
        ),
      );
      // Let each flow act on the bogus one first: until Klarna has seen it, or the flow moved on,
      // or 10 s.
      const bogusTokens = new Set(bogus.values());
      const deadline = Date.now() + 10_000;
      for (;;) {
        const log = (await simControl('GET', '/_sim/requests?path_prefix=/payments/v1/authorizations/')) as { path: string }[];
        const seen = new Set(log.map((r) => decodeURIComponent(r.path.split('/')[4] ?? '')).filter((t) => bogusTokens.has(t)));
        const states = await Promise.all(
          flows.filter((f) => !seen.has(bogus.get(f.flowId)!)).map((f) => http('GET', `${stack.apiUrl}/v1/tokenizations/${f.flowId}`)),
        );
        if (states.every((s) => s.body?.state && s.body.state !== 'AWAITING_AUTHORIZATION') || Date.now() >= deadline) break;
        await sleep(250);
      }
      await Promise.all(flows.map((f) => approve(simulator.url, f)));

      const bogusCalls = ((await simControl('GET', '/_sim/requests?path_prefix=/payments/v1/authorizations/')) as { path: string }[]).filter((r) =>
        bogusTokens.has(decodeURIComponent(r.path.split('/')[4] ?? '')),
      ).length;
      const f = await finishCase('(e) bogus authorization before the real one', flows, startedAt, [
        `bogus submissions answered ${show(countBy(bogusAnswers, (a) => String(a.status)))}`,
        `Klarna got ${bogusCalls} calls with a bogus token`,
      ]);
      expectEveryFlowTokenizedOnce(f);
    },
    SETTLE_MS + CASE_OVERHEAD_MS,
  );

  it(
    '(f) worker SIGKILL after Klarna accepted the token orders, before our write',
    async () => {
      const startedAt = Date.now();
      const vault = createTokenVault(stack.encryptionKey);
      // FLOWS vaulted tokens, each charged once with its own key.
      const charges: { key: string; token: string; tokenRef: string }[] = [];
      for (let i = 0; i < FLOWS; i++) {
        const made = (await simControl('POST', '/_sim/tokens', { purchase_country: 'SE', purchase_currency: 'SEK' })) as { token_id: string };
        const tokenRef = vault.reference(made.token_id);
        await db.collection(collections.customerTokens).insertOne({
          _id: tokenRef as never,
          flow_id: `tokenize-${runId}-f-${i}`,
          merchant_reference: `${runId}-f-${i}`,
          session_id: 'chaos',
          token: vault.seal(made.token_id),
          token_last4: made.token_id.slice(-4),
          status: 'ACTIVE',
          purchase_country: 'SE',
          purchase_currency: 'SEK',
          created_at: new Date(),
          updated_at: new Date(),
        });
        charges.push({ key: `${runId}-f-${i}`, token: made.token_id, tokenRef });
      }
      // Klarna places each order at once but holds the answer for 20 s: the calls are in flight.
      await simControl('POST', '/_sim/faults', { path: '/customer-token/v1/tokens/*/order', method: 'POST', phase: 'after', latencyMs: 20_000 });
      const started = await Promise.all(
        charges.map((c) =>
          http('POST', `${stack.apiUrl}/v1/charges?wait=1ms`, {
            token_ref: c.tokenRef,
            purchase_currency: 'SEK',
            order_amount: 1000,
            order_lines: [{ name: 'Renewal', quantity: 1, unit_price: 1000, total_amount: 1000 }],
            merchant_reference: c.key,
            customer_present: false,
          }, { 'idempotency-key': c.key }),
        ),
      );
      expect(started.map((r) => r.status)).toEqual(charges.map(() => 202));
      const orderCalls = async () =>
        ((await simControl('GET', '/_sim/requests?method=POST&path_prefix=/customer-token/')) as { path: string; status: number | null }[]).filter((r) =>
          r.path.endsWith('/order'),
        );
      const deadline = Date.now() + 30_000;
      let inFlight = 0;
      while (Date.now() < deadline) {
        inFlight = new Set((await orderCalls()).filter((c) => c.status === null).map((c) => c.path)).size;
        if (inFlight >= FLOWS) break;
        await sleep(200);
      }
      const pid = stack.worker.pid();
      await stack.worker.kill();
      await simControl('DELETE', '/_sim/faults');
      await stack.worker.start();

      const outcomes = await Promise.all(
        charges.map(async (c) => {
          const until = Date.now() + SETTLE_MS;
          for (;;) {
            const r = await http('GET', `${stack.apiUrl}/v1/charges/charge-${c.key}`);
            if (r.body?.state === 'COMPLETED' || r.body?.state === 'FAILED' || Date.now() > until) return r.body;
            await sleep(500);
          }
        }),
      );
      const orders = (await simControl('GET', '/_sim/orders')) as { order_id: string; token_id?: string }[];
      const oneOrderEach = charges.filter((c, i) => {
        const mine = orders.filter((o) => o.token_id === c.token);
        return mine.length === 1 && outcomes[i]?.order?.order_id === mine[0]!.order_id;
      }).length;
      const completed = outcomes.filter((o) => o?.state === 'COMPLETED').length;
      const line = `chaos (f) worker SIGKILL with token orders in flight: completed ${completed}/${FLOWS}, one Klarna order shown by its charge: ${oneOrderEach}/${FLOWS}, ${inFlight}/${FLOWS} orders in flight at Klarna when worker pid ${pid} got SIGKILL, ${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
      console.log(line);
      extraLines.push(line);
      expect({ completed, oneOrderEach, inFlight }, line).toEqual({ completed: FLOWS, oneOrderEach: FLOWS, inFlight: FLOWS });
    },
    SETTLE_MS + CASE_OVERHEAD_MS,
  );
});
