import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startKlarnaSimulator, type KlarnaSimulator } from '../../klarna-simulator/server.js';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import { collections, connectMongo, type Mongo } from '../../persistence/mongo.js';
import { createTokenVault } from '../../persistence/token-vault.js';
import { getFreePort, waitForPort } from '../../stack/ports.js';
import { ephemeralPayloadKeys, formatPayloadKeys } from '../../temporal/payload-codec.js';
import { eventually, http, simulatorCredentials, tokenizationBody } from '../harness/app-stack.js';
import { appProcessEnv } from '../../stack/app-process-env.js';
import { startLoggedProcess, stopLoggedProcess, type LoggedProcess } from '../harness/logged-process.js';

// Metrics and traces of the shipped processes (`npm run worker`, `npm run api`), configured only
// by environment variables, on the suite's Temporal dev server and FerretDB:
//   - traces: OTEL_EXPORTER_OTLP_ENDPOINT points both processes at a tiny OTLP/HTTP receiver here;
//     one tokenization and one charge each make one trace, API client span → workflow span →
//     activity span → Klarna HTTP span, across both processes, carrying the flow id and no secret;
//   - metrics: the API's GET /metrics (route histogram by pattern and status) and the worker's
//     Prometheus endpoint (WORKER_METRICS_ADDRESS: Temporal's temporal_* metrics, flow outcomes).


// ---- a minimal OTLP/HTTP (JSON) trace receiver -------------------------------------------------

type AnyValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: AnyValue }[];
}
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  attributes: Record<string, string | number | boolean | undefined>;
}
const value = (v: AnyValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));

const received: ReceivedSpan[] = [];
const rawBodies: string[] = [];
let receiver: Server;

function startReceiver(): Promise<number> {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (request.method === 'POST' && request.url === '/v1/traces') {
        rawBodies.push(body);
        const parsed = JSON.parse(body) as {
          resourceSpans: { resource: { attributes: { key: string; value: AnyValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const rs of parsed.resourceSpans) {
          const service = String(value(rs.resource.attributes.find((a) => a.key === 'service.name')?.value ?? {}));
          for (const span of rs.scopeSpans.flatMap((s) => s.spans)) {
            received.push({
              service,
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              name: span.name,
              attributes: Object.fromEntries((span.attributes ?? []).map((a) => [a.key, value(a.value)])),
            });
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => receiver.listen(0, '127.0.0.1', () => resolve((receiver.address() as { port: number }).port)));
}

/** The chain from `span` up to its root, through spans of every process. */
function ancestry(span: ReceivedSpan): ReceivedSpan[] {
  const chain = [span];
  for (let current = span; current.parentSpanId; ) {
    const parent = received.find((s) => s.spanId === current.parentSpanId && s.traceId === current.traceId);
    if (!parent) break;
    chain.push(parent);
    current = parent;
  }
  return chain;
}

// ---- the processes -----------------------------------------------------------------------------

const suffix = randomUUID().slice(0, 8);
const encryptionKey = randomBytes(32);
const callbackSecret = `cb-${randomBytes(16).toString('hex')}`;
const authToken = `obs-${randomBytes(16).toString('hex')}`;
const bearer = { authorization: `Bearer ${authToken}` };
let simulator: KlarnaSimulator;
let mongo: Mongo;
let worker: LoggedProcess | undefined;
let api: LoggedProcess | undefined;
let apiUrl: string;
let workerMetricsUrl: string;

beforeAll(async () => {
  const receiverPort = await startReceiver();
  simulator = await startKlarnaSimulator({ ...simulatorCredentials, port: 0, logger: false });
  const database = `test_observability_${suffix}`;
  mongo = await connectMongo({ uri: inject('mongoUri'), database });
  const [apiPort, metricsPort] = [await getFreePort(), await getFreePort()];
  apiUrl = `http://127.0.0.1:${apiPort}`;
  workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const env: NodeJS.ProcessEnv = {
    ...appProcessEnv({
      temporalAddress: inject('temporalAddress'),
      taskQueue: `test-observability-${suffix}`,
      mongoUri: inject('mongoUri'),
      database,
      simulatorUrl: simulator.url,
      apiPort,
      callbackSecret,
      tokenKey: encryptionKey,
      payloadKeys: formatPayloadKeys(ephemeralPayloadKeys()),
    }),
    API_AUTH_TOKEN: authToken,
    LOG_LEVEL: 'info',
    WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`,
    // Export batches every 200 ms instead of 5 s.
    OTEL_BSP_SCHEDULE_DELAY: '200',
  };
  worker = startLoggedProcess('worker/main.ts', env);
  api = startLoggedProcess('api/main.ts', env);
  await waitForPort('127.0.0.1', apiPort, 60_000);
  await waitForPort('127.0.0.1', metricsPort, 60_000);
  // The worker bundles the workflows before it polls; a start before then would wait for it.
  await eventually(async () => (worker!.lines.some((l) => l.includes('"state":"RUNNING"')) ? true : undefined), 'the worker to poll', 90_000);
}, 150_000);

afterAll(async () => {
  await Promise.all([stopLoggedProcess(api), stopLoggedProcess(worker)]);
  await simulator?.close();
  await mongo?.db.dropDatabase().catch(() => undefined);
  await mongo?.close();
  await new Promise((r) => receiver?.close(r));
});

describe('metrics and traces of the shipped processes', () => {
  let tokenizeFlowId: string;
  let chargeFlowId: string;
  let authorizationToken: string;
  let customerToken: string;
  let clientToken: string;

  it('a tokenization and a charge (the workload traced and counted below)', async () => {
    const reference = `obs-${suffix}`;
    const started = await http('POST', `${apiUrl}/v1/tokenizations`, tokenizationBody(reference), { ...bearer, 'idempotency-key': reference });
    expect(started.status).toBe(201);
    tokenizeFlowId = started.body.flow_id;
    clientToken = started.body.client_token;
    const authorized = await http('POST', `${simulator.url}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' });
    expect(authorized.status).toBe(200);
    authorizationToken = authorized.body.authorization_token;
    const done = await eventually(async () => {
      const r = await http('GET', `${apiUrl}/v1/tokenizations/${tokenizeFlowId}?wait=5s`, undefined, bearer);
      return r.body?.state === 'COMPLETED' ? r.body : undefined;
    }, 'the tokenization to complete', 60_000);
    const tokenDoc = await mongo.db.collection<CustomerTokenDocument>(collections.customerTokens).findOne({ _id: done.customer_token.token_ref });
    customerToken = createTokenVault(encryptionKey).open(tokenDoc!.token);

    const chargeKey = `obs-charge-${suffix}`;
    const charged = await http(
      'POST',
      `${apiUrl}/v1/charges?wait=20s`,
      {
        token_ref: done.customer_token.token_ref,
        purchase_currency: 'SEK',
        order_amount: 19900,
        order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
        merchant_reference: chargeKey,
        customer_present: false,
      },
      { ...bearer, 'idempotency-key': chargeKey },
    );
    expect(charged.status).toBe(201);
    expect(charged.body.state).toBe('COMPLETED');
    chargeFlowId = charged.body.flow_id;
    // One refused call, for the status-code label.
    expect((await http('GET', `${apiUrl}/v1/flows`)).status).toBe(401);
  }, 120_000);

  it('one charge is one trace: API client span → workflow span → activity span → Klarna HTTP span, with the flow id', async () => {
    const klarnaSpan = await eventually(
      async () => received.find((s) => s.name === 'klarna create_token_order' && s.attributes['flow.id'] === chargeFlowId),
      'the charge\'s Klarna span',
    );
    const chain = await eventually(async () => {
      const c = ancestry(klarnaSpan);
      return c.at(-1)?.service === 'klarna-token-sagas-api' ? c : undefined;
    }, 'the whole chain up to the API\'s span');
    // Root first: the API's update-with-start, the workflow run, the activity's scheduling and run, the Klarna call.
    expect(chain.reverse().map((s) => [s.service, s.name])).toEqual([
      ['klarna-token-sagas-api', 'UpdateWithStartWorkflow:chargeOutcome'],
      ['klarna-token-sagas-worker', 'RunWorkflow:chargeWorkflow'],
      ['klarna-token-sagas-worker', 'StartActivity:placeTokenOrder'],
      ['klarna-token-sagas-worker', 'RunActivity:placeTokenOrder'],
      ['klarna-token-sagas-worker', 'klarna create_token_order'],
    ]);
    expect(new Set(chain.map((s) => s.traceId)).size).toBe(1);
    const [client, workflow, , activity] = chain;
    expect(client!.attributes.temporalWorkflowId).toBe(chargeFlowId);
    expect(workflow!.attributes['flow.id']).toBe(chargeFlowId);
    expect(activity!.attributes.temporalWorkflowId).toBe(chargeFlowId);
    // The Klarna call as the simulator saw it: the charge id as idempotency key, its correlation id.
    const orders = (await http('GET', `${simulator.url}/_sim/requests?method=POST&path_prefix=/customer-token/`)).body as {
      correlation_id: string;
      idempotency_key?: string;
    }[];
    const order = orders.find((o) => o.idempotency_key === chargeFlowId);
    expect(order, 'the simulator received the order under the charge id').toBeDefined();
    expect(klarnaSpan.attributes).toMatchObject({
      'klarna.operation': 'create_token_order',
      'http.request.method': 'POST',
      'url.template': '/customer-token/v1/tokens/{customer_token}/order',
      'http.response.status_code': 200,
      'klarna.idempotency_key': chargeFlowId,
      'klarna.correlation_id': order!.correlation_id,
    });
  });

  it('a tokenization is one trace too, across the shopper\'s wait: both Klarna calls under the API\'s start', async () => {
    const session = await eventually(async () => received.find((s) => s.name === 'klarna create_session' && s.attributes['flow.id'] === tokenizeFlowId), 'create_session span');
    const token = await eventually(
      async () => received.find((s) => s.name === 'klarna create_customer_token' && s.attributes['flow.id'] === tokenizeFlowId),
      'create_customer_token span',
    );
    const roots = await eventually(async () => {
      const r = [session, token].map((s) => ancestry(s).at(-1)!);
      return r.every((root) => root.service === 'klarna-token-sagas-api') ? r : undefined;
    }, 'both chains up to the API');
    expect(roots.map((r) => r.name)).toEqual(['UpdateWithStartWorkflow:checkoutSession', 'UpdateWithStartWorkflow:checkoutSession']);
    expect(roots[0]!.spanId).toBe(roots[1]!.spanId);
    expect(token.traceId).toBe(session.traceId);
    expect(ancestry(token).map((s) => s.name)).toEqual([
      'klarna create_customer_token',
      'RunActivity:createCustomerToken',
      'StartActivity:createCustomerToken',
      'RunWorkflow:tokenizeWorkflow',
      'UpdateWithStartWorkflow:checkoutSession',
    ]);
  });

  it('no span carries a token, a secret or shopper data', () => {
    expect(received.length).toBeGreaterThan(10);
    const everything = rawBodies.join('\n');
    for (const [what, secret] of [
      ['customer token', customerToken],
      ['authorization token', authorizationToken],
      ['client token', clientToken],
      ['callback secret', callbackSecret],
      ['API bearer token', authToken],
      ['Klarna password', simulatorCredentials.password],
      ["shopper's email", 'customer@email.se'],
      ["shopper's name", 'Alice'],
    ] as const) {
      expect(everything.includes(secret), `no span may carry the ${what}`).toBe(false);
    }
  });

  it('GET /metrics on the API: requests by route pattern and status code, open without the bearer token, not in the OpenAPI document', async () => {
    const metrics = await http('GET', `${apiUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = String(metrics.body);
    const count = (method: string, route: string, status: number) =>
      Number(new RegExp(`^http_request_duration_seconds_count\\{method="${method}",route="${route.replace(/[/]/g, '\\/')}",status_code="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    expect(count('POST', '/v1/tokenizations', 201)).toBe(1);
    expect(count('POST', '/v1/charges', 201)).toBe(1);
    expect(count('GET', '/v1/tokenizations/:flow_id', 200)).toBeGreaterThanOrEqual(1);
    expect(count('GET', '/v1/flows', 401)).toBe(1);
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="0.1",method="POST",route="\/v1\/charges",status_code="201"\} \d+$/m);
    // Node process metrics (prom-client's defaults) in the API process.
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    // Route patterns, never paths: no flow id in any label.
    expect(text.includes(tokenizeFlowId)).toBe(false);
    const document = await http('GET', `${apiUrl}/openapi.json`);
    expect(Object.keys(document.body.paths)).not.toContain('/metrics');
    expect(Object.keys(document.body.paths)).toContain('/v1/charges');
  });

  it("the worker's Prometheus endpoint: Temporal's temporal_* metrics and the flows' outcomes", async () => {
    let last = '';
    const text = await eventually(async () => {
      const r = await fetch(workerMetricsUrl);
      last = await r.text();
      return r.status === 200 && /flow_outcomes\{[^}]*flow_type="charge"/.test(last) ? last : undefined;
    }, 'the worker to export the outcomes').catch((err: Error) => {
      throw new Error(`${err.message}; the worker's metrics:\n${last.split('\n').filter((l) => !l.startsWith('#')).slice(0, 80).join('\n')}`);
    });
    expect(text).toMatch(/^temporal_workflow_completed\{[^}]*workflow_type="chargeWorkflow"[^}]*\} 1$/m);
    expect(text).toMatch(/^temporal_activity_execution_latency_bucket\{/m);
    const outcome = (flowType: string) =>
      new RegExp(`^flow_outcomes\\{(?=[^}]*flow_type="${flowType}")(?=[^}]*state="COMPLETED")(?=[^}]*failure_kind="none")[^}]*\\} (\\d+)$`, 'm').exec(text)?.[1];
    expect(outcome('tokenize')).toBe('1');
    expect(outcome('charge')).toBe('1');
  });

  it('both processes stop cleanly, flushing their spans', async () => {
    const [apiExit, workerExit] = await Promise.all([stopLoggedProcess(api), stopLoggedProcess(worker)]);
    expect(apiExit).toBe(0);
    expect(workerExit).toBe(0);
  });
});
