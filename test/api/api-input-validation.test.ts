import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackSecretFor } from '../../klarna/callback-auth.js';
import type { KlarnaEventDocument } from '../../persistence/klarna-events-repository.js';
import { collections } from '../../persistence/mongo.js';
import { eventually, http, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// The API's answers to bad input, over HTTP against the real Temporal dev server (no worker:
// nothing here should reach a workflow; only the last block, which shows a refused start leaves
// its key unused, runs a worker to start a flow with it).

const authToken = 'test-api-token-0123456789';
let stack: AppStack;
const auth = { authorization: `Bearer ${authToken}` };

beforeAll(async () => {
  stack = await startAppStack({ withWorker: false, authToken });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe('API input handling', () => {
  it('answers 400 naming every bad field of a start request', async () => {
    const r = await http(
      'POST',
      `${stack.apiUrl}/v1/tokenizations`,
      { ...tokenizationBody('ref-1'), purchase_country: 'Sweden', locale: 'sv', order_lines: [{ name: 'x', quantity: -1, unit_price: 1.5 }] },
      auth,
    );
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_request');
    expect(fieldsOf(r)).toEqual(
      [
        'body.purchase_country',
        'body.locale',
        'body.order_lines.0.quantity',
        'body.order_lines.0.unit_price',
        'body.order_lines.0.total_amount',
      ].sort(),
    );
  });

  it('answers 400 for a missing body, malformed JSON and a bad idempotency key', async () => {
    const missing = await http('POST', `${stack.apiUrl}/v1/tokenizations`, undefined, auth);
    expect(missing.status).toBe(400);
    const malformed = await http('POST', `${stack.apiUrl}/v1/tokenizations`, '{"merchant_reference": ', auth);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toBe('invalid_request');
    const badKey = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody('ref 1'), { ...auth, 'idempotency-key': 'has spaces' });
    expect(badKey.status).toBe(400);
    expect(badKey.body.issues[0].field).toBe('headers.idempotency-key');
    // A merchant reference that cannot be an id needs an explicit key.
    const refAsKey = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody('order #1'), auth);
    expect(refAsKey.status).toBe(400);
    expect(refAsKey.body.issues[0].field).toBe('headers.idempotency-key');
  });

  it('answers 415 for a body that is not JSON', async () => {
    const r = await http('POST', `${stack.apiUrl}/v1/tokenizations`, 'a=b', { ...auth, 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
    expect(r.body.error).toBe('unsupported_media_type');
  });

  it('answers 404 for unknown flows and routes, 400 for malformed flow ids', async () => {
    const unknown = `tokenize-${randomUUID()}`;
    expect((await http('GET', `${stack.apiUrl}/v1/tokenizations/${unknown}`, undefined, auth)).status).toBe(404);
    const signal = await http('POST', `${stack.apiUrl}/v1/tokenizations/${unknown}/authorization`, { authorization_token: 't' }, auth);
    expect(signal.status).toBe(404);
    expect(signal.body.error).toBe('not_found');
    const malformed = await http('GET', `${stack.apiUrl}/v1/tokenizations/not-a-flow`, undefined, auth);
    expect(malformed.status).toBe(400);
    expect(malformed.body.issues[0].field).toBe('params.flow_id');
    expect((await http('GET', `${stack.apiUrl}/v1/nothing-here`)).status).toBe(404);
  });

  it('requires the bearer token on checkout routes when one is configured', async () => {
    const none = await http('GET', `${stack.apiUrl}/v1/tokenizations/tokenize-x`);
    expect(none.status).toBe(401);
    const wrong = await http('GET', `${stack.apiUrl}/v1/tokenizations/tokenize-x`, undefined, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe('unauthorized');
  });

  it('refuses Klarna callbacks without the shared secret', async () => {
    const body = { authorization_token: 'auth-token', session_id: 'sess' };
    const missing = await http('POST', `${stack.apiUrl}/klarna/callbacks/authorization/tokenize-x`, body);
    expect(missing.status).toBe(401);
    const wrong = await http('POST', `${stack.apiUrl}/klarna/callbacks/authorization/tokenize-x?secret=wrong`, body);
    expect(wrong.status).toBe(401);
    const badBody = await http('POST', `${stack.apiUrl}/klarna/callbacks/authorization/tokenize-x?secret=${stack.callbackSecret}`, { session_id: 1 });
    expect(badBody.status).toBe(400);
    expect(badBody.body.issues.map((i: { field: string }) => i.field)).toEqual(['body.authorization_token', 'body.session_id']);
  });

  it('never answers 500 to garbage', async () => {
    const garbage: unknown[] = [null, [], 42, 'str', { merchant_reference: {} }, { order_lines: 'x' }, { ...tokenizationBody('r'), order_lines: [] }];
    for (const body of garbage) {
      const r = await http('POST', `${stack.apiUrl}/v1/tokenizations`, JSON.stringify(body), { ...auth, 'content-type': 'application/json' });
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('serves the OpenAPI document generated from the schemas', async () => {
    const r = await http('GET', `${stack.apiUrl}/openapi.json`);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body.paths)).toEqual(
      expect.arrayContaining(['/v1/tokenizations', '/v1/tokenizations/{flow_id}/authorization', '/klarna/callbacks/authorization/{flow_id}']),
    );
    expect(r.body.paths['/v1/tokenizations'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['merchant_reference', 'purchase_country', 'order_lines']),
    );
  });
});

const fieldsOf = (r: { body: { issues?: { field: string }[] } }) => (r.body.issues ?? []).map((i) => i.field).sort();

/** True when Temporal has never heard of the workflow id. */
async function noWorkflow(app: AppStack, workflowId: string): Promise<boolean> {
  try {
    await app.temporal.workflow.getHandle(workflowId).describe();
    return false;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return true;
    throw err;
  }
}

/** A line with Swedish VAT (25 %): 19900 gross of which 3980 tax. */
const taxedLine = { type: 'digital', name: 'Coffee subscription, monthly', quantity: 1, unit_price: 19900, total_amount: 19900, tax_rate: 2500, total_tax_amount: 3980 };

describe("Klarna's market rules, before any flow starts", () => {
  const cases: { name: string; overrides: object; fields: string[] }[] = [
    { name: 'SE with USD', overrides: { purchase_currency: 'USD' }, fields: ['body.purchase_currency'] },
    {
      name: 'US with SEK',
      overrides: { purchase_country: 'US', purchase_currency: 'SEK', locale: 'en-US', billing_address: { email: 'customer@email.us', country: 'US' } },
      fields: ['body.purchase_currency'],
    },
    { name: 'a country Klarna does not serve', overrides: { purchase_country: 'JP', purchase_currency: 'JPY', locale: 'ja-JP', billing_address: undefined }, fields: ['body.purchase_country'] },
    {
      name: 'quantity × unit_price ≠ total_amount',
      overrides: { order_lines: [{ name: 'Coffee', quantity: 2, unit_price: 19900, total_amount: 19900 }] },
      fields: ['body.order_lines.0.total_amount'],
    },
    {
      name: 'a discount not subtracted from total_amount',
      overrides: { order_lines: [{ name: 'Coffee', quantity: 1, unit_price: 19900, total_discount_amount: 1900, total_amount: 19900 }] },
      fields: ['body.order_lines.0.total_amount'],
    },
    { name: 'order_amount ≠ sum of the lines', overrides: { order_amount: 20000 }, fields: ['body.order_amount'] },
    { name: 'order_tax_amount ≠ sum of the line taxes', overrides: { order_lines: [taxedLine], order_tax_amount: 1000 }, fields: ['body.order_tax_amount'] },
    {
      name: 'a line tax that does not match its tax_rate',
      overrides: { order_lines: [{ ...taxedLine, total_tax_amount: 1000 }], order_tax_amount: 1000 },
      fields: ['body.order_lines.0.total_tax_amount'],
    },
    {
      name: 'billing country ≠ purchase country',
      overrides: { billing_address: { email: 'customer@email.no', country: 'NO' } },
      fields: ['body.billing_address.country'],
    },
  ];

  for (const { name, overrides, fields } of cases) {
    it(`answers 400 for ${name}, naming ${fields.join(', ')}, and starts nothing`, async () => {
      const key = `rules-${randomUUID()}`;
      const r = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody(key, overrides), { ...auth, 'idempotency-key': key });
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error).toBe('invalid_request');
      expect(fieldsOf(r)).toEqual(fields);
      expect(await noWorkflow(stack, `tokenize-${key}`)).toBe(true);
    });
  }

  it('names every problem of one request at once, with the schema errors', async () => {
    const key = `rules-many-${randomUUID()}`;
    const r = await http(
      'POST',
      `${stack.apiUrl}/v1/tokenizations`,
      tokenizationBody(key, {
        purchase_currency: 'USD',
        locale: 'sv',
        order_amount: 1,
        order_tax_amount: 1,
        order_lines: [
          { ...taxedLine, quantity: 2 },
          { name: 'Mug', quantity: 1, unit_price: 500, total_discount_amount: 100, total_amount: 500 },
        ],
        billing_address: { country: 'DK' },
      }),
      { ...auth, 'idempotency-key': key },
    );
    expect(r.status).toBe(400);
    expect(fieldsOf(r)).toEqual(
      [
        'body.billing_address.country',
        'body.locale',
        'body.order_amount',
        'body.order_lines.0.total_amount',
        'body.order_lines.1.total_amount',
        'body.order_tax_amount',
        'body.purchase_currency',
      ].sort(),
    );
    for (const issue of r.body.issues as { message: string }[]) expect(issue.message).not.toBe('');
    expect(await noWorkflow(stack, `tokenize-${key}`)).toBe(true);
  });
});

describe('flow ids of the longest key on every route', () => {
  // The longest key the API accepts, with ':' (percent-encoded in callback URLs) and '.'.
  const longestKey = (tag: string) => `${tag}:${randomUUID()}.`.padEnd(128, 'x');

  it('refuses a key one character too long at the start', async () => {
    const key = longestKey('too-long') + 'x';
    const r = await http('POST', `${stack.apiUrl}/v1/tokenizations`, tokenizationBody('too-long'), { ...auth, 'idempotency-key': key });
    expect(r.status).toBe(400);
    expect(fieldsOf(r)).toEqual(['headers.idempotency-key']);
  });

  it('routes the longest flow id (404 for an unknown one, never 414)', async () => {
    const key = longestKey('unknown');
    expect(key).toHaveLength(128);
    const flowId = `tokenize-${key}`;
    for (const id of [flowId, encodeURIComponent(flowId)]) {
      const get = await http('GET', `${stack.apiUrl}/v1/tokenizations/${id}`, undefined, auth);
      expect(get.status, id).toBe(404);
      const authorization = await http('POST', `${stack.apiUrl}/v1/tokenizations/${id}/authorization`, { authorization_token: 't' }, auth);
      expect(authorization.status, id).toBe(404);
    }
    // Klarna's callback for it: routed, authenticated, stored as reaching no flow.
    const callback = await http('POST', `${stack.apiUrl}/klarna/callbacks/authorization/${encodeURIComponent(flowId)}?secret=${callbackSecretFor(stack.callbackSecret, flowId)}`, {
      authorization_token: `auth-${randomUUID()}`,
      session_id: `sess-${randomUUID()}`,
    });
    expect(callback.status, JSON.stringify(callback.body)).toBe(200);
    expect(callback.body).toMatchObject({ duplicate: false });
    // Kept in the inbox under the long flow id, and marked as reaching no flow (no flow takes it).
    const stored = await eventually(async () => {
      const doc = await stack.mongo.db.collection<KlarnaEventDocument>(collections.klarnaEvents).findOne({ _id: callback.body.event_id });
      return doc?.delivery === 'pending' ? undefined : (doc ?? undefined);
    }, 'the event to be marked');
    expect(stored).toMatchObject({ flow_id: flowId, source: 'authorization_callback', delivery: 'no_flow' });
  });

  it('answers 400, not 414, to a callback for something that is not a flow id', async () => {
    const r = await http('POST', `${stack.apiUrl}/klarna/callbacks/authorization/${'x'.repeat(137)}?secret=${stack.callbackSecret}`, {
      authorization_token: 'a',
      session_id: 's',
    });
    expect(r.status).toBe(400);
    expect(fieldsOf(r)).toEqual(['params.flow_id']);
  });
});

describe('a refused start uses nothing up', () => {
  let withWorker: AppStack;
  beforeAll(async () => {
    withWorker = await startAppStack();
  }, 120_000);
  afterAll(async () => {
    await withWorker?.stop();
  });

  it('starts the flow when the same key comes back with a valid body', async () => {
    const key = `retry-${randomUUID()}`;
    const flowId = `tokenize-${key}`;
    const refused = await http('POST', `${withWorker.apiUrl}/v1/tokenizations`, tokenizationBody(key, { purchase_currency: 'USD' }), { 'idempotency-key': key });
    expect(refused.status).toBe(400);
    expect(fieldsOf(refused)).toEqual(['body.purchase_currency']);
    // Nothing was started or stored for the key.
    expect(await noWorkflow(withWorker, flowId)).toBe(true);
    expect(await withWorker.mongo.db.collection(collections.flows).findOne({ _id: flowId as never })).toBeNull();

    const started = await http('POST', `${withWorker.apiUrl}/v1/tokenizations`, tokenizationBody(key), { 'idempotency-key': key });
    expect(started.status, JSON.stringify(started.body)).toBe(201);
    expect(started.body).toMatchObject({ flow_id: flowId, state: 'AWAITING_AUTHORIZATION' });
    expect(await noWorkflow(withWorker, flowId)).toBe(false);
  });

  it('starts flows for carts Klarna accepts: discounts, taxes within its rounding tolerance, no billing country', async () => {
    // Klarna (the simulator) checks the cart again when the flow creates the session: a session id
    // in the answer means it agreed. No stricter than Klarna.
    const accepted = [
      { order_lines: [{ name: 'Coffee', quantity: 2, unit_price: 10000, total_discount_amount: 100, total_amount: 19900 }] },
      { order_lines: [taxedLine, { ...taxedLine, total_tax_amount: 3979 }], order_tax_amount: 7961 },
      { order_lines: [{ name: 'Coffee', quantity: 1, unit_price: 20000, total_amount: 20000 }, { type: 'discount', name: 'Welcome', quantity: 1, unit_price: -100, total_amount: -100 }] },
      { billing_address: { email: 'customer@email.se' } },
      { purchase_country: 'DE', purchase_currency: 'EUR', locale: 'de-DE', billing_address: { email: 'customer@email.de', country: 'DE' } },
    ];
    for (const overrides of accepted) {
      const key = `ok-${randomUUID()}`;
      const body = tokenizationBody(key, overrides) as { order_lines: { total_amount: number }[]; purchase_country: string };
      const r = await http('POST', `${withWorker.apiUrl}/v1/tokenizations`, body, { 'idempotency-key': key });
      expect(r.status, JSON.stringify({ overrides, body: r.body })).toBe(201);
      expect(r.body).toMatchObject({ state: 'AWAITING_AUTHORIZATION' });
      // Klarna holds that session, with this cart: it accepted it.
      const session = await http('GET', `${withWorker.simulatorUrl}/payments/v1/sessions/${r.body.session_id}`, undefined, { authorization: withWorker.klarnaAuth });
      expect(session.status, JSON.stringify(overrides)).toBe(200);
      expect(session.body).toMatchObject({
        merchant_reference1: key,
        purchase_country: body.purchase_country,
        order_amount: body.order_lines.reduce((sum, l) => sum + l.total_amount, 0),
        client_token: r.body.client_token,
      });
    }
  });
});
