import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startKlarnaSimulator, type KlarnaSimulator } from '../../klarna-simulator/server.js';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import { collections, connectMongo, type Mongo } from '../../persistence/mongo.js';
import type { OrderDocument } from '../../persistence/orders-repository.js';
import { createTokenVault } from '../../persistence/token-vault.js';
import { getFreePort, waitForPort } from '../../stack/ports.js';
import { repoRoot } from '../../stack/tool-paths.js';
import { ephemeralPayloadKeys, formatPayloadKeys } from '../../temporal/payload-codec.js';
import { eventually, http, simulatorCredentials, tokenizationBody } from '../harness/app-stack.js';

// A buy-and-tokenize flow whose worker is SIGKILLed twice, each time while Klarna holds the answer
// to a call it has already carried out: first the customer token, then the order. The worker and
// the API are the shipped processes (`node --import tsx worker/main.ts`, configured by environment
// variables) on the suite's Temporal and FerretDB. After each kill a new worker takes over; Temporal
// retries the lost activity once its attempt times out (30 s), with the same idempotency key, and
// Klarna answers from that key: exactly one token and one order, at Klarna and with us.

interface Proc {
  child: ChildProcess;
  lines: string[];
}

function startProcess(entry: string, env: NodeJS.ProcessEnv): Proc {
  // Its own process group, so a SIGKILL reaches everything it started.
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  const collect = (chunk: Buffer) => lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  return { child, lines };
}

function kill(proc: Proc, signal: NodeJS.Signals): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => proc.child.once('exit', () => resolve()));
  try {
    process.kill(-proc.child.pid!, signal);
  } catch {
    proc.child.kill(signal);
  }
  return exited;
}

const suffix = randomUUID().slice(0, 8);
const encryptionKey = randomBytes(32);
let env: NodeJS.ProcessEnv;
let simulator: KlarnaSimulator;
let mongo: Mongo;
let api: Proc | undefined;
const workers: Proc[] = [];
let apiUrl: string;

async function startWorker(): Promise<Proc> {
  const worker = startProcess('worker/main.ts', env);
  workers.push(worker);
  // It bundles the workflows before it polls.
  await eventually(async () => (worker.lines.some((l) => l.includes('"state":"RUNNING"')) ? true : undefined), 'a worker to poll', 120_000);
  return worker;
}

beforeAll(async () => {
  simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  const database = `test_worker_killed_${suffix}`;
  mongo = await connectMongo({ uri: inject('mongoUri'), database });
  const apiPort = await getFreePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `test-worker-killed-${suffix}`,
    MONGODB_URI: inject('mongoUri'),
    MONGODB_DATABASE: database,
    KLARNA_BASE_URL: simulator.url,
    KLARNA_USERNAME: simulatorCredentials.username,
    KLARNA_PASSWORD: simulatorCredentials.password,
    PUBLIC_BASE_URL: apiUrl,
    CALLBACK_SECRET: `cb-${randomBytes(16).toString('hex')}`,
    TOKEN_ENCRYPTION_KEY: encryptionKey.toString('base64'),
    PAYLOAD_ENCRYPTION_KEYS: formatPayloadKeys(ephemeralPayloadKeys()),
    API_PORT: String(apiPort),
    LOG_LEVEL: 'info',
  };
  api = startProcess('api/main.ts', env);
  await Promise.all([waitForPort('127.0.0.1', apiPort, 90_000), startWorker()]);
}, 240_000);

afterAll(async () => {
  await Promise.all([...workers, ...(api ? [api] : [])].map((p) => kill(p, 'SIGTERM')));
  await simulator?.close();
  await mongo?.db.dropDatabase().catch(() => undefined);
  await mongo?.close();
});

interface SimAuthorization {
  authorization_token: string;
  order_id?: string;
  customer_token_id?: string;
}

describe('buy and tokenize with the worker killed mid-call', () => {
  it('token and order each survive a SIGKILL after Klarna carried them out: exactly one of each', async () => {
    // Klarna carries out each call, then holds the answer for 20 s: the worker dies meanwhile.
    for (const route of ['/payments/v1/authorizations/:authorizationToken/customer-token', '/payments/v1/authorizations/:authorizationToken/order']) {
      const fault = await http('POST', `${simulator.url}/_sim/faults`, { route, phase: 'after', latencyMs: 20_000, count: 1 });
      expect(fault.status).toBe(200);
    }
    const reference = `killed-${suffix}`;
    const started = await http('POST', `${apiUrl}/v1/buy-and-tokenize`, tokenizationBody(reference), { 'idempotency-key': reference });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    const { flow_id: flowId, session_id: sessionId } = started.body as { flow_id: string; session_id: string };
    const authorized = await http('POST', `${simulator.url}/_sim/sessions/${sessionId}/authorize`, { outcome: 'approve' });
    expect(authorized.status).toBe(200);

    const authorization = async () => ((await http('GET', `${simulator.url}/_sim/sessions/${sessionId}`)).body.authorizations as SimAuthorization[])[0];
    // 1. Klarna has made the token; its answer is on hold. Kill the worker, start another.
    await eventually(async () => ((await authorization())?.customer_token_id ? true : undefined), 'the token at Klarna', 60_000);
    await kill(workers.at(-1)!, 'SIGKILL');
    await startWorker();
    // 2. Klarna has placed the order; its answer is on hold. Kill again, start another.
    await eventually(async () => ((await authorization())?.order_id ? true : undefined), 'the order at Klarna', 120_000);
    await kill(workers.at(-1)!, 'SIGKILL');
    await startWorker();

    const done = await eventually(
      async () => {
        const r = await http('GET', `${apiUrl}/v1/buy-and-tokenize/${flowId}`);
        return r.body?.state === 'COMPLETED' || r.body?.state === 'FAILED' ? r.body : undefined;
      },
      'the flow to end',
      120_000,
    );
    expect(done.state).toBe('COMPLETED');

    // Klarna: each call made twice with one key; one token, one order.
    const requests = (await http('GET', `${simulator.url}/_sim/requests?method=POST&path_prefix=/payments/v1/authorizations`)).body as {
      path: string;
      idempotency_key: string;
      status: number | null;
    }[];
    for (const suffixPath of ['/customer-token', '/order']) {
      const calls = requests.filter((r) => r.path.endsWith(suffixPath));
      expect(calls.length, suffixPath).toBe(2);
      expect(new Set(calls.map((c) => c.idempotency_key)).size, suffixPath).toBe(1);
    }
    const final = await authorization();
    const orders = ((await http('GET', `${simulator.url}/_sim/orders`)).body as { order_id: string; session_id: string }[]).filter((o) => o.session_id === sessionId);
    expect(orders.map((o) => o.order_id)).toEqual([done.order.order_id]);
    expect(final!.order_id).toBe(done.order.order_id);
    // Ours: the one token Klarna made, the one order it placed.
    const tokens = await mongo.db.collection<CustomerTokenDocument>(collections.customerTokens).find({ flow_id: flowId }).toArray();
    expect(tokens).toHaveLength(1);
    expect(createTokenVault(encryptionKey).open(tokens[0]!.token)).toBe(final!.customer_token_id);
    const orderDocs = await mongo.db.collection<OrderDocument>(collections.orders).find({ flow_id: flowId }).toArray();
    expect(orderDocs.map((o) => o._id)).toEqual([done.order.order_id]);
  }, 360_000);
});
