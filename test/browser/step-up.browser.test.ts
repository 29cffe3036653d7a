import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { eventually, http, startAppStack, vaultedToken, type AppStack } from '../harness/app-stack.js';
import { launchChromium, saveScreenshot } from '../support/chromium.js';

// Step-up recovery in a real browser (headless Chromium, Debian's package, driven by
// playwright-core) against the whole product: API (with the dev-only demo checkout), worker,
// Temporal, FerretDB and the Klarna simulator. The shopper clicks through Klarna's hosted page or
// the Klarna widget (the simulator's JS SDK stand-in) as a person would; the outcome is checked
// through our API and at the simulator. Each journey's last page is saved under
// .data/screenshots/ (git-ignored); the path is printed.

let stack: AppStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startAppStack({ demo: true }), launchChromium()]);
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});
beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  context.setDefaultTimeout(20_000);
  page = await context.newPage();
  // A script error on any page (ours, the SDK stand-in, the simulator's) fails the test.
  page.on('pageerror', (err) => pageErrors.push(err.message));
});
afterEach(async () => {
  await context?.close();
  expect(pageErrors.splice(0)).toEqual([]);
});

const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(method, `${stack.apiUrl}${path}`, body, headers);
const sim = (method: string, path: string, body?: unknown) => http(method, `${stack.simulatorUrl}${path}`, body);

/** A charge with the shopper present that Klarna refuses with a step_up_id (the token's payment method failing). */
async function refusedCharge() {
  const { tokenRef, token } = await vaultedToken(stack);
  await sim('POST', `/_sim/tokens/${token}/payment-method`, { failing: true });
  const key = `browser-${randomUUID()}`;
  const refused = await api(
    'POST',
    '/v1/charges?wait=10s',
    {
      token_ref: tokenRef,
      purchase_currency: 'SEK',
      order_amount: 19900,
      order_tax_amount: 0,
      order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
      merchant_reference: key,
      customer_present: true,
    },
    { 'idempotency-key': key },
  );
  expect(refused.body).toMatchObject({ state: 'FAILED', failure: { kind: 'step_up_required', step_up_id: expect.any(String) } });
  return { tokenRef, chargeId: `charge-${key}` };
}

/** The simulator's orders from one Klarna Payments session. */
const ordersOf = async (sessionId: string) => ((await sim('GET', '/_sim/orders')).body as { order_id: string; session_id?: string }[]).filter((o) => o.session_id === sessionId);

/** The recovery as our API shows it, with its order checked at Klarna: exactly one, the one shown. */
async function expectCompleted(chargeId: string, orderIdOnPage: string | null) {
  const recovery = await api('GET', `/v1/charges/${chargeId}/step-up`);
  expect(recovery.status).toBe(200);
  expect(recovery.body).toMatchObject({ state: 'COMPLETED', next_action: 'none', order: { order_id: expect.any(String), placed_by: 'merchant' } });
  expect(orderIdOnPage).toBe(recovery.body.order.order_id);
  const orders = await ordersOf(recovery.body.session_id);
  expect(orders.map((o) => o.order_id)).toEqual([recovery.body.order.order_id]);
  const stored = await customerTokensRepository(stack.mongo.db).findByRef(recovery.body.token_ref);
  expect(stored).toMatchObject({ status: 'ACTIVE', status_reason: 'payment_method_changed' });
  return recovery.body;
}

const outcome = (state: string) => page.locator(`#outcome[data-state="${state}"]`);

describe('step-up recovery in the browser', () => {
  it('HPP: the shopper opens redirect_url, logs in and pays at Klarna, lands on the merchant success URL; the charge completes', async () => {
    const { chargeId } = await refusedCharge();
    const back = (kind: string) => `${stack.apiUrl}/demo/checkout?charge=${chargeId}&return=${kind}`;
    const started = await api('POST', `/v1/charges/${chargeId}/step-up`, {
      integration: 'hpp',
      hpp: { success_url: back('success'), cancel_url: back('cancel'), back_url: back('back'), failure_url: back('failure'), error_url: back('error') },
    });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ state: 'AWAITING_SHOPPER', next_action: 'redirect_to_hpp', hpp: { redirect_url: expect.stringMatching(/^http/) } });

    await page.goto(started.body.hpp.redirect_url);
    // Opening the page is the shopper arriving: Klarna reports IN_PROGRESS, and the recovery shows it.
    expect(await page.locator('#status').textContent()).toBe('IN_PROGRESS');
    expect(await page.locator('#amount').textContent()).toBe('199.00 SEK');
    await page.fill('#email', 'customer@email.se');
    await page.fill('#otp', '123456');
    await Promise.all([page.waitForURL(back('success')), page.click('#login')]);

    // The merchant's success page (the demo checkout) reads the outcome from our API.
    await outcome('COMPLETED').waitFor();
    await saveScreenshot(page, 'step-up-hpp-success');
    const done = await expectCompleted(chargeId, await page.locator('#outcome').getAttribute('data-order-id'));
    expect(done.hpp).toMatchObject({ status: 'COMPLETED', failed_attempts: 0 });
  });

  it('SDK: on the demo checkout the shopper sets up a refused charge, approves in the Klarna widget; the page posts the authorization and the charge completes', async () => {
    await page.goto(`${stack.apiUrl}/demo/checkout`);
    await page.click('#setup');
    await page.locator('#charge-info', { hasText: 'FAILED (step_up_required)' }).waitFor();
    const chargeId = new URL(page.url()).searchParams.get('charge')!;
    expect(chargeId).toMatch(/^charge-demo-/);

    await page.click('#pay-widget');
    // load(): Klarna's widget shows the amount, then the merchant's button calls authorize().
    expect(await page.frameLocator('#klarna-payments-widget').locator('#amount').textContent()).toBe('199.00 SEK');
    await page.click('#authorize');
    const purchase = page.frameLocator('#klarna-payments-purchase');
    expect(await purchase.locator('#amount').textContent()).toBe('199.00 SEK');
    await purchase.locator('#login').click(); // Continue with Klarna: the login approves

    await outcome('COMPLETED').waitFor();
    expect(await page.locator('#klarna-payments-fullscreen').count()).toBe(0); // the purchase flow closed
    await saveScreenshot(page, 'step-up-sdk-widget');
    const done = await expectCompleted(chargeId, await page.locator('#outcome').getAttribute('data-order-id'));
    expect(done.integration).toBe('sdk');
    // The page posted authorize()'s token (accepted), and Klarna's callback brought the same one:
    // one authorization event in the inbox, one order.
    expect(await page.locator('#log').textContent()).toContain(`POST /v1/charges/${chargeId}/step-up/authorization → 202`);
    const events = await stack.mongo.db.collection('klarna_events').countDocuments({ flow_id: `stepup-${chargeId}`, source: { $in: ['checkout_authorization', 'authorization_callback'] } });
    expect(events).toBe(1);
  });

  it('SDK: closing Klarna keeps it offered; a decline ends the recovery DECLINED with no order', async () => {
    const { chargeId } = await refusedCharge();
    await page.goto(`${stack.apiUrl}/demo/checkout?charge=${chargeId}`);
    await page.click('#pay-widget');
    await page.click('#authorize');
    await page.frameLocator('#klarna-payments-purchase').locator('#decline').waitFor();
    await page.click('#klarna-payments-close');
    expect(await page.locator('#klarna-payments-fullscreen').count()).toBe(0);
    expect(await page.locator('#authorize').isVisible()).toBe(true);
    expect((await api('GET', `/v1/charges/${chargeId}/step-up`)).body.state).toBe('AWAITING_SHOPPER');

    await page.click('#authorize');
    await page.frameLocator('#klarna-payments-purchase').locator('#decline').click();
    await outcome('DECLINED').waitFor();
    await saveScreenshot(page, 'step-up-sdk-declined');
    const recovery = (await api('GET', `/v1/charges/${chargeId}/step-up`)).body;
    expect(recovery).toMatchObject({ state: 'DECLINED', cancellation: { reason: 'shopper_declined' }, failure: { kind: 'shopper_declined' } });
    expect(await ordersOf(recovery.session_id)).toEqual([]);
  });

  it("demo checkout, hosted page: 'back to store' is not the end; the shopper returns to Klarna's page, pays, and the checkout shows the order", async () => {
    await page.goto(`${stack.apiUrl}/demo/checkout`);
    await page.click('#setup');
    await page.locator('#charge-info', { hasText: 'FAILED (step_up_required)' }).waitFor();
    const chargeId = new URL(page.url()).searchParams.get('charge')!;

    await Promise.all([page.waitForURL(/\/_sim\/hpp\//), page.click('#pay-hpp')]);
    await Promise.all([page.waitForURL(/return=back$/), page.click('#back')]);
    await page.locator('#hpp-link').waitFor();
    const afterBack = await eventually(async () => {
      const recovery = (await api('GET', `/v1/charges/${chargeId}/step-up`)).body;
      return recovery.hpp?.status === 'BACK' ? recovery : undefined;
    }, 'the recovery to see BACK');
    expect(afterBack.state).toBe('AWAITING_SHOPPER');

    await Promise.all([page.waitForURL(/\/_sim\/hpp\//), page.click('#hpp-link')]);
    await Promise.all([page.waitForURL(/return=success$/), page.click('#login')]);
    await outcome('COMPLETED').waitFor();
    await saveScreenshot(page, 'step-up-demo-hpp');
    const done = await expectCompleted(chargeId, await page.locator('#outcome').getAttribute('data-order-id'));
    expect(done.hpp).toMatchObject({ status: 'COMPLETED', failed_attempts: 1 });
  });
});
