import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { KlarnaApiError } from '../../klarna/errors.js';
import { createKlarnaV2Client } from '../../klarna/v2-client.js';
import { startTracing } from '../../temporal/tracing.js';

// The v2 client's wire format: the headers seeds 002/003 name, forwarded values unmodified,
// the API key as Basic, errors typed.

function capture(status = 200, answer: unknown = { customer_token_response: { result: 'APPROVED', customer_token: 'krn:customer-token:1' } }) {
  const seen: Request[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    seen.push(request.clone());
    return new Response(JSON.stringify(answer), { status, headers: { 'content-type': 'application/json', 'klarna-correlation-id': 'corr-1' } });
  }) as typeof globalThis.fetch;
  return { seen, fetch };
}

describe('Klarna v2 client', () => {
  it('authorize: the partner account path, idempotency key, interoperability, network session and customer token headers; the body as given', async () => {
    const { seen, fetch } = capture();
    const client = createKlarnaV2Client({ baseUrl: 'https://api-global.test.klarna.com', apiKey: 'klarna_test_api_key', partnerAccountId: 'krn:partner:1', timeoutMs: 1000, fetch });
    const body = { currency: 'USD', request_customer_token: { scopes: ['payment:customer_present' as const] }, supplementary_purchase_data: { subscriptions: [{ name: 'x', nested: { a: [1, null] } }] } };
    const answer = await client.authorize(body, { idempotencyKey: 'idem-1', interoperabilityToken: 'interop.token/+=', networkSessionToken: 'krn:network:1', customerToken: 'krn:customer-token:9' });
    expect(answer.body.customer_token_response).toEqual({ result: 'APPROVED', customer_token: 'krn:customer-token:1' });
    const request = seen[0]!;
    expect(request.url).toBe('https://api-global.test.klarna.com/v2/accounts/krn%3Apartner%3A1/payment/authorize');
    expect(request.headers.get('authorization')).toBe('Basic klarna_test_api_key');
    expect(request.headers.get('klarna-idempotency-key')).toBe('idem-1');
    expect(request.headers.get('klarna-interoperability-token')).toBe('interop.token/+=');
    expect(request.headers.get('klarna-network-session-token')).toBe('krn:network:1');
    expect(request.headers.get('klarna-customer-token')).toBe('krn:customer-token:9');
    expect(await request.json()).toEqual(body);
  });

  it('no optional headers when not given; username and password as Basic without an API key; v2 errors typed', async () => {
    const { seen, fetch } = capture(400, { error_id: 'e-1', error_type: 'INPUT_ERROR', error_code: 'INVALID_NETWORK_SESSION_TOKEN', error_message: 'expired' });
    const client = createKlarnaV2Client({ baseUrl: 'http://sim', username: 'u', password: 'p', partnerAccountId: 'p1', timeoutMs: 1000, fetch });
    const failed = await client.authorize({ currency: 'USD', request_payment_transaction: { amount: 1 } }, { idempotencyKey: 'k' }).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(KlarnaApiError);
    expect((failed as KlarnaApiError).kind).toBe('network_session_token_invalid');
    expect((failed as KlarnaApiError).details.correlationId).toBe('corr-1');
    const request = seen[0]!;
    expect(request.headers.get('authorization')).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    for (const name of ['klarna-interoperability-token', 'klarna-network-session-token', 'klarna-customer-token']) expect(request.headers.has(name), name).toBe(false);
  });

  it('each call is a span with the operation, path template, status and idempotency key; no token in the span or the log', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = startTracing({ serviceName: 'v2-client-test', exporter })!;
    try {
      const { fetch } = capture();
      const logged: unknown[] = [];
      const logger = { info: (obj: object) => logged.push(obj), warn: (obj: object) => logged.push(obj) };
      const client = createKlarnaV2Client({ baseUrl: 'http://sim', apiKey: 'klarna_test_api_secret', partnerAccountId: 'krn:partner:1', timeoutMs: 1000, fetch, logger });
      const tokens = { interoperabilityToken: 'interop-secret-1', networkSessionToken: 'krn:network:secret-2', customerToken: 'krn:customer-token:secret-3' };
      await client.authorize({ currency: 'USD', request_payment_transaction: { amount: 1 } }, { idempotencyKey: 'idem-span', ...tokens });
      const [span] = exporter.getFinishedSpans();
      expect(span?.name).toBe('klarna v2_authorize');
      expect(span!.attributes).toEqual({
        'klarna.operation': 'v2_authorize',
        'http.request.method': 'POST',
        'url.template': '/v2/accounts/{partner_account_id}/payment/authorize',
        'klarna.idempotency_key': 'idem-span',
        'http.response.status_code': 200,
        'klarna.correlation_id': 'corr-1',
      });
      const exported = JSON.stringify([span!.name, span!.attributes, span!.status, span!.events, logged]);
      for (const secret of [...Object.values(tokens), 'klarna_test_api_secret', 'krn:customer-token:1']) expect(exported.includes(secret), secret).toBe(false);
    } finally {
      await tracing.shutdown();
    }
  });
});
