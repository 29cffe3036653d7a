import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { CustomerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import type { TokenVault } from '../../persistence/token-vault.js';
import { ApiError } from '../errors.js';
import { checkoutPage, checkoutScript } from './checkout-page.js';

export interface DemoCheckoutOptions {
  /** The Klarna simulator (KLARNA_SIMULATOR_URL): its JS SDK stand-in and its test controls. */
  simulatorUrl: string;
  vault: TokenVault;
  customerTokens: CustomerTokensRepository;
}

/**
 * The demo checkout, development only: buildApi registers it only when given a simulator, and
 * api/main.ts never gives one in production mode. The page is the merchant's side of step-up
 * recovery (a checkout page with the Klarna widget, or a redirect to Klarna's hosted page and
 * back), served by the API because it is our API the page calls: same origin, no CORS to open.
 * Hidden from the OpenAPI document; a /demo path is a checkout route (api/route-kinds.ts), so it
 * takes the same bearer token and rate limits as /v1 when those are configured.
 */
export const demoCheckoutRoutes: FastifyPluginAsync<DemoCheckoutOptions> = async (app, { simulatorUrl, vault, customerTokens }) => {
  const simulator = new URL(simulatorUrl).origin;
  // Its own policy (the API's default denies everything): its script, the SDK from the simulator,
  // Klarna's iframes from the simulator, calls to this API only.
  const csp = [
    "default-src 'none'",
    `script-src 'self' ${simulator}`,
    `frame-src ${simulator}`,
    "connect-src 'self'",
    "style-src 'unsafe-inline'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');

  app.get('/demo/checkout', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', csp).send(checkoutPage(`${simulator}/_sim/klarna-payments.js`)),
  );
  app.get('/demo/checkout.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('application/javascript; charset=utf-8').send(checkoutScript),
  );

  /**
   * A charge Klarna refuses with a step_up_id, for the page to recover: a customer token made
   * directly at the simulator (as if tokenized earlier) and vaulted as the tokenize flow stores
   * one, its payment method set failing, then a charge with the shopper present through our own
   * POST /v1/charges.
   */
  app.post('/demo/refused-charge', { schema: { hide: true } }, async (request, reply) => {
    const sim = async (path: string, body: unknown) => {
      const answer = await fetch(`${simulatorUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).catch(() => undefined);
      if (!answer?.ok) throw new ApiError(503, 'simulator_unavailable', `The Klarna simulator at ${simulatorUrl} did not answer ${path} (${answer?.status ?? 'no answer'}).`);
      return (await answer.json()) as Record<string, unknown>;
    };
    const made = await sim('/_sim/tokens', { purchase_country: 'SE', purchase_currency: 'SEK', description: 'Coffee subscription (demo)' });
    const token = String(made.token_id);
    const tokenRef = vault.reference(token);
    const now = new Date();
    await customerTokens.save({
      _id: tokenRef,
      flow_id: `tokenize-demo-${randomUUID()}`,
      merchant_reference: 'demo',
      session_id: 'demo',
      token: vault.seal(token),
      token_last4: token.slice(-4),
      status: 'ACTIVE',
      purchase_country: 'SE',
      purchase_currency: 'SEK',
      created_at: now,
    });
    await sim(`/_sim/tokens/${encodeURIComponent(token)}/payment-method`, { failing: true });

    const key = `demo-${randomUUID().slice(0, 8)}`;
    const charged = await app.inject({
      method: 'POST',
      url: '/v1/charges?wait=10s',
      headers: { 'content-type': 'application/json', 'idempotency-key': key, ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}) },
      payload: {
        token_ref: tokenRef,
        purchase_currency: 'SEK',
        order_amount: 19900,
        order_tax_amount: 0,
        order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
        merchant_reference: key,
        customer_present: true,
      },
    });
    // 200/201: the charge's outcome (FAILED, step_up_required); 202: still running, the page reads it.
    return reply.code(charged.statusCode < 300 ? 201 : charged.statusCode).send({ charge_id: `charge-${key}`, charge: charged.json() });
  });
};
