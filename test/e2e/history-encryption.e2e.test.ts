import { randomUUID } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import protos from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CustomerTokenDocument } from '../../persistence/customer-tokens-repository.js';
import { collections } from '../../persistence/mongo.js';
import { ENCRYPTED_ENCODING } from '../../temporal/payload-codec.js';
import { eventually, http, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// What the Temporal server stores: a real tokenization on the real stack, then its event history
// as the server hands it out (raw, no codec), searched byte by byte for the shopper's data. The
// same history decoded with the codec must show that data, so the search is known to look in
// the right place.

type HistoryEvent = protos.temporal.api.history.v1.IHistoryEvent;

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

/** Every event of a run, straight from the frontend: no data converter, no codec. */
async function rawHistory(workflowId: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await stack.temporal.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId }, nextPageToken });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return events;
}

/** Every Payload in the events, with where it sits (`workflowExecutionStartedEventAttributes.input.payloads`, …). */
function payloadsIn(value: unknown, path = ''): { path: string; payload: Payload }[] {
  if (!value || typeof value !== 'object' || ArrayBuffer.isView(value)) return [];
  const record = value as Record<string, unknown>;
  if (record.metadata && typeof record.metadata === 'object' && 'encoding' in record.metadata) return [{ path, payload: record as Payload }];
  return Object.entries(record).flatMap(([key, child]) => payloadsIn(child, Array.isArray(value) ? path : path ? `${path}.${key}` : key));
}

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

describe('workflow history encryption', () => {
  it('keeps the authorization token, the address, the e-mail and the name out of the stored history', async () => {
    const unique = randomUUID().slice(0, 8);
    const shopper = {
      given_name: `Gunnhild${unique}`,
      family_name: 'Test',
      email: `shopper-${unique}@example.se`,
      street_address: `Hemliga gatan ${unique}`,
      postal_code: '11122',
      city: 'Stockholm',
      country: 'SE',
    };
    const merchantReference = `history-${unique}`;
    // Klarna's callback is held back, so the checkout's submission is the one signal that carries
    // the token into the flow (a callback first would end the flow and make the checkout's a 409).
    const hold = await http('POST', `${stack.simulatorUrl}/_sim/callbacks/scenario`, { kind: 'authorization', hold: true, count: 1 });
    expect(hold.status).toBe(200);
    const started = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(merchantReference, { billing_address: shopper }));
    expect(started.status).toBe(201);
    const flowId: string = started.body.flow_id;

    const authorized = await http('POST', `${stack.simulatorUrl}/_sim/sessions/${started.body.session_id}/authorize`, { outcome: 'approve' });
    expect(authorized.status).toBe(200);
    const authorizationToken: string = authorized.body.authorization_token;
    const submitted = await http('POST', `${stack.apiUrl}/v1/tokenizations/${flowId}/authorization`, {
      authorization_token: authorizationToken,
      session_id: started.body.session_id,
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const done = await eventually(async () => {
      const r = await http('GET', `${stack.apiUrl}/v1/tokenizations/${flowId}`);
      return r.body?.state === 'COMPLETED' ? r.body : undefined;
    }, 'the flow to complete');
    expect(done.authorization.source).toBe('checkout');
    await stack.temporal.workflow.getHandle(flowId).result();
    const tokenDoc = await stack.mongo.db.collection<CustomerTokenDocument>(collections.customerTokens).findOne({ _id: done.customer_token.token_ref });
    const customerToken = stack.vault.open(tokenDoc!.token);

    const events = await rawHistory(flowId);
    expect(events.at(-1)?.eventType).toBe(protos.temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
    expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(1);
    const raw = Buffer.from(protos.temporal.api.history.v1.History.encode({ events }).finish());
    const secrets = {
      'authorization token': authorizationToken,
      'street address': shopper.street_address,
      'e-mail': shopper.email,
      'given name': shopper.given_name,
    };
    for (const [what, value] of Object.entries(secrets)) {
      expect(raw.includes(value), `the ${what} must not be in the stored history`).toBe(false);
    }
    expect(raw.includes(customerToken), 'the customer token never enters the history').toBe(false);

    // Every payload the SDK encodes is encrypted. Plain are only search attributes (the server
    // indexes them), patched() markers (a patch id, nothing else) and a local activity marker's
    // `data` (the SDK's core writes it: sequence number, activity type, times); the local
    // activity's result goes through the codec like any other.
    const found = events.flatMap((event) =>
      payloadsIn(event).map((p) => {
        const marker = event.markerRecordedEventAttributes?.markerName;
        const coreMarker = marker === 'core_patch' || (marker === 'core_local_activity' && /\.details\.data\.payloads$/.test(p.path));
        return { ...p, coreMarker };
      }),
    );
    const plain = found.filter(({ payload }) => text(payload.metadata?.encoding) !== ENCRYPTED_ENCODING);
    for (const { path, coreMarker, payload } of plain) {
      expect(coreMarker || /\.searchAttributes\.indexedFields\.[A-Za-z]+$/.test(path), `plain payload at ${path}: ${text(payload.data)}`).toBe(true);
    }
    const encrypted = found.filter(({ payload }) => text(payload.metadata?.encoding) === ENCRYPTED_ENCODING);
    const where = new Set(encrypted.map((p) => p.path));
    for (const path of [
      'workflowExecutionStartedEventAttributes.input.payloads',
      'workflowExecutionSignaledEventAttributes.input.payloads',
      'activityTaskScheduledEventAttributes.input.payloads',
      'activityTaskCompletedEventAttributes.result.payloads',
      'workflowExecutionCompletedEventAttributes.result.payloads',
    ]) {
      expect(where, `payloads at ${path} are encrypted`).toContain(path);
    }

    // Decoded with the codec (what the Temporal UI shows through /codec), the data is all there:
    // the same byte search over the history with its payloads decrypted finds every value.
    const decrypted = await stack.payloadCodec.decode(encrypted.map((p) => p.payload));
    encrypted.forEach(({ payload }, i) => {
      payload.metadata = decrypted[i]!.metadata;
      payload.data = decrypted[i]!.data;
    });
    const decoded = Buffer.from(protos.temporal.api.history.v1.History.encode({ events }).finish());
    for (const [what, value] of Object.entries(secrets)) {
      expect(decoded.includes(value), `the decoded history carries the ${what}`).toBe(true);
    }
    expect(decoded.includes(done.customer_token.token_ref)).toBe(true);
    expect(decoded.includes(customerToken), 'the customer token is not in the decoded history either').toBe(false);
  });
});
