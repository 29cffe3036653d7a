import { randomUUID } from 'node:crypto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createFlowStorageActivities } from '../../activities/flow-storage-activities.js';
import { createTokenizeActivities } from '../../activities/tokenize-activities.js';
import { createKlarnaClient } from '../../klarna/client.js';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../../persistence/flows-repository.js';
import { klarnaEventsRepository, type KlarnaEventDocument } from '../../persistence/klarna-events-repository.js';
import { collections } from '../../persistence/mongo.js';
import { encryptingDataConverter } from '../../temporal/payload-codec.js';
import { workflowsPath } from '../../worker/create-worker.js';
import { eventually, http, simulatorCredentials, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// With no worker on the task queue nothing can answer an update or a query: every API call must
// still answer within its deadline, with a defined status, and lose nothing it was given: once a
// worker comes, the flow acts on the authorization the API took meanwhile.

const deadlines = { startMs: 1_500, readMs: 1_000, signalMs: 1_000 };
let stack: AppStack;

beforeAll(async () => {
  stack = await startAppStack({ withWorker: false, deadlines });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

/** A worker for the app's task queue, started late (the tokenize flow's activities only). */
async function lateWorker(): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: inject('temporalAddress') });
  const deps = {
    klarna: createKlarnaClient({ baseUrl: stack.simulatorUrl, ...simulatorCredentials, timeoutMs: 5_000 }),
    vault: stack.vault,
    customerTokens: customerTokensRepository(stack.mongo.db),
    flows: flowsRepository(stack.mongo.db),
    events: klarnaEventsRepository(stack.mongo.db),
    callbacks: { publicBaseUrl: stack.apiUrl, secret: stack.callbackSecret },
  };
  const worker = await Worker.create({
    connection,
    taskQueue: stack.taskQueue,
    workflowsPath,
    dataConverter: encryptingDataConverter(stack.payloadCodec),
    activities: { ...createTokenizeActivities(deps), ...createFlowStorageActivities(deps) },
  });
  return { worker, connection };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = Date.now();
  const value = await fn();
  return { ms: Date.now() - started, value };
}

describe('the API with no worker running', () => {
  it('answers a start with 202 and the flow starting, a read with 503 and Retry-After, and stores an authorization the flow takes once a worker runs', async () => {
    const merchantReference = `bounded-${randomUUID()}`;
    const start = await timed(() => http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(merchantReference)));
    expect(start.value.status).toBe(202);
    expect(start.value.body).toMatchObject({ flow_id: `tokenize-${merchantReference}`, state: 'CREATING_SESSION' });
    expect(start.value.headers.get('location')).toBe(`/v1/tokenizations/tokenize-${merchantReference}`);
    // Within the start deadline plus one bounded describe, with room for a busy machine.
    expect(start.ms).toBeLessThan(deadlines.startMs + deadlines.readMs + 2_000);
    const flowId: string = start.value.body.flow_id;

    // The workflow exists in Temporal although no worker has run it.
    const description = await stack.temporal.workflow.getHandle(flowId).describe();
    expect(description.status.name).toBe('RUNNING');

    const retried = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(merchantReference));
    expect(retried.status).toBe(202);
    const conflicting = await http('POST', `${stack.apiUrl}/v1/tokenizations`, { ...tokenizationBody(merchantReference), description: 'Other' });
    expect(conflicting.status).toBe(409);
    expect(conflicting.body).toMatchObject({ error: 'idempotency_conflict' });

    const read = await timed(() => http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`));
    expect(read.value.status).toBe(503);
    expect(read.value.body).toMatchObject({ error: 'temporarily_unavailable' });
    expect(read.value.headers.get('retry-after')).toBe('5');
    expect(read.ms).toBeLessThan(deadlines.readMs + 2_000);

    const authorization = await timed(() =>
      http('POST', `${stack.apiUrl}/v1/tokenizations/${flowId}/authorization`, { authorization_token: 'auth-while-no-worker' }),
    );
    expect(authorization.value.status).toBe(202);
    expect(authorization.ms).toBeLessThan(deadlines.signalMs + deadlines.readMs + 2_000);
    const events = await stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).find({ flow_id: flowId }).toArray();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ _id: authorization.value.body.event_id, source: 'checkout_authorization' });
    expect(JSON.stringify(events[0])).not.toContain('auth-while-no-worker');

    // Nothing was lost: Temporal took the signal although no worker ran, so once a worker runs
    // the flow creates its session and then tries the authorization at Klarna. Klarna does not
    // know this token, and a checkout's word is no proof, so the flow sets it aside and waits on
    // (had it come from Klarna's callback, the flow would have ended EXPIRED instead).
    const { worker, connection } = await lateWorker();
    try {
      const afterInbox = await worker.runUntil(
        eventually(async () => {
          const r = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`);
          return r.status === 200 && r.body.rejected_authorizations === 1 ? r.body : undefined;
        }, 'the flow to try the stored authorization', 40_000),
      );
      expect(afterInbox).toMatchObject({ state: 'AWAITING_AUTHORIZATION', rejected_authorizations: 1, ignored_authorizations: 0 });
      expect(afterInbox.authorization).toBeUndefined();
      const tried = ((await http('GET', `${stack.simulatorUrl}/_sim/requests?method=POST`)).body as { path: string; status: number }[]).filter((r) =>
        r.path.endsWith('/customer-token'),
      );
      expect(tried).toEqual([expect.objectContaining({ path: '/payments/v1/authorizations/auth-while-no-worker/customer-token', status: 404 })]);
      const stored = await stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).findOne({ _id: authorization.value.body.event_id });
      expect(stored).toMatchObject({ delivery: 'delivered' });
    } finally {
      await connection.close();
    }
  });

  it('answers /health at once and /ready with both dependencies named', async () => {
    expect((await http('GET', `${stack.apiUrl}/health`)).body).toEqual({ status: 'ok' });
    const ready = await http('GET', `${stack.apiUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', mongodb: 'ok', temporal: 'ok' });
  });
});
