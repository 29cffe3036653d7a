import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSubscriptionRequest } from '../../contracts/subscription.js';
import { subscriptionInputFromRequest } from '../../contracts/subscription-rules.js';
import { SIGNATURE_HEADER, verifyMerchantEvent } from '../../klarna/merchant-signature.js';
import { eventually, http, startAppStack, vaultedToken, type AppStack } from '../harness/app-stack.js';

// Outbound merchant notifications on the real stack: a subscription's renewals and state changes
// reach a receiver that refuses the first two deliveries of every event; each event arrives in the
// end, is accepted once per event id, and its signature verifies with the merchant's secret.

const secret = `whsec-${randomUUID()}`;
interface Received {
  id: string;
  status: number;
  body: string;
  signature: string;
}
const received: Received[] = [];
let receiver: Server;
let stack: AppStack;

beforeAll(async () => {
  const tries = new Map<string, number>();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const id = String(req.headers['klarna-token-sagas-event-id']);
      const n = (tries.get(id) ?? 0) + 1;
      tries.set(id, n);
      const status = n <= 2 ? 500 : 200;
      received.push({ id, status, body, signature: String(req.headers[SIGNATURE_HEADER]) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/klarna-events`;
  // A second, older secret as during a rotation: the current one (first) must still verify.
  stack = await startAppStack({ merchantWebhooks: { urls: [url], secrets: [secret, `whsec-old-${randomUUID()}`] } });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

const sim = (method: string, path: string, body?: unknown) => http(method, `${stack.simulatorUrl}${path}`, body);

describe('merchant notifications', () => {
  it('delivers every renewal and state event at least once, accepted once per id, signed; the log shows each attempt', async () => {
    const { tokenRef, token } = await vaultedToken(stack);
    const id = `sub-notify-${randomUUID().slice(0, 8)}`;
    const request = createSubscriptionRequest.parse({
      token_ref: tokenRef,
      purchase_currency: 'SEK',
      order_amount: 19900,
      order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
      interval: 'DAY',
      interval_count: 1,
      billing_anchor: new Date(Date.now() + 500).toISOString(),
      time_zone: 'Europe/Stockholm',
      merchant_reference: 'coffee-notify',
      dunning: { retry_after_days: [2 / 86_400] },
    });
    // The test-only SECOND interval (a period every 4 s) and fast delivery retries.
    const input = {
      ...subscriptionInputFromRequest(id, request),
      interval: 'SECOND' as const,
      interval_count: 4,
      notify_merchant: true,
      notification_policy: { initial_ms: 200, max_ms: 1_000, give_up_after_ms: 60_000 },
    };
    // Period 0 is refused once (renewal.failed, past due), retried 2 s later and paid.
    expect((await sim('POST', `/_sim/tokens/${token}/next-order-error`, { error_code: 'PAYMENT_METHOD_FAILED', count: 1 })).status).toBe(200);
    await stack.temporal.workflow.start('subscriptionWorkflow', { taskQueue: stack.taskQueue, workflowId: id, args: [input] });
    await eventually(async () => {
      const s = (await http('GET', `${stack.apiUrl}/v1/subscriptions/${id}`)).body;
      return s.periods?.[0]?.state === 'PAID' ? true : undefined;
    }, 'period 0 paid after the retry', 30_000);
    await http('POST', `${stack.apiUrl}/v1/subscriptions/${id}/cancel`, {});

    const expected = [
      { id: `evt-charge-${id}-0`, type: 'renewal.failed' },
      { id: `evt-charge-${id}-0-retry-1`, type: 'renewal.succeeded' },
      { type: 'subscription.past_due' },
      { type: 'subscription.cancelled' },
    ];
    const accepted = await eventually(async () => {
      const ok = received.filter((r) => r.status === 200 && JSON.parse(r.body).subscription_id === id);
      const types = new Set(ok.map((r) => JSON.parse(r.body).type));
      return expected.every((e) => types.has(e.type)) ? ok : undefined;
    }, 'every event delivered', 30_000);

    // Each event accepted exactly once, after two refused attempts, with a signature that verifies.
    const byId = new Map<string, Received[]>();
    for (const r of received.filter((x) => JSON.parse(x.body).subscription_id === id)) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
    for (const e of expected.filter((x) => x.id)) expect(byId.has(e.id!), e.id).toBe(true);
    for (const [eventId, attempts] of byId) {
      expect(attempts.map((a) => a.status), eventId).toEqual([500, 500, 200]);
      const body = JSON.parse(attempts[0]!.body);
      expect(body.id).toBe(eventId);
      for (const a of attempts) expect(a.body, 'every attempt carries the same event').toBe(attempts[0]!.body);
    }
    const now = Math.floor(Date.now() / 1000);
    for (const r of accepted) {
      expect(verifyMerchantEvent(r.body, r.signature, secret, now), `signature of ${r.id}`).toBe(true);
      const tampered = r.body.replace('"type":"', '"type":"x');
      expect(verifyMerchantEvent(tampered, r.signature, secret, now), 'a tampered body does not verify').toBe(false);
      expect(verifyMerchantEvent(r.body, r.signature, 'another-secret-of-someone', now)).toBe(false);
    }
    const failed = JSON.parse(accepted.find((r) => JSON.parse(r.body).type === 'renewal.failed')!.body);
    expect(failed).toMatchObject({ charge_id: `charge-${id}-0`, token_ref: tokenRef, data: { failure_kind: 'payment_method_failed', period: 0 } });
    expect(JSON.stringify(received)).not.toContain(token);

    // The delivery log over the API.
    const log = await http('GET', `${stack.apiUrl}/v1/merchant-events?subscription_id=${id}`);
    expect(log.status).toBe(200);
    const logged = log.body.events.find((e: { id: string }) => e.id === `evt-charge-${id}-0`);
    expect(logged.deliveries).toHaveLength(1);
    expect(logged.deliveries[0]).toMatchObject({ state: 'delivered' });
    expect(logged.deliveries[0].attempts.map((a: { status?: number }) => a.status)).toEqual([500, 500, 200]);
  }, 90_000);
});
