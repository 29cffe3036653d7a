import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startAppStack, tokenizationBody, type AppStack } from '../harness/app-stack.js';

// The API's answers to bad input, over HTTP against the real Temporal dev server (no worker:
// nothing here should reach a workflow).

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
    const fields = r.body.issues.map((i: { field: string }) => i.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'body.purchase_country',
        'body.locale',
        'body.order_lines.0.quantity',
        'body.order_lines.0.unit_price',
        'body.order_lines.0.total_amount',
      ]),
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
