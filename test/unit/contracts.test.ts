import { describe, expect, it } from 'vitest';
import { startTokenizationRequest, tokenizeInputFromRequest } from '../../contracts/tokenize.js';

const valid = {
  merchant_reference: 'order-1',
  purchase_country: 'SE',
  purchase_currency: 'SEK',
  locale: 'sv-SE',
  description: 'Coffee subscription',
  order_lines: [
    { name: 'Coffee', quantity: 2, unit_price: 500, total_amount: 1000 },
    { name: 'Mug', quantity: 1, unit_price: 250, total_amount: 250 },
  ],
};

describe('start tokenization request', () => {
  it('accepts a valid body and derives order_amount from the lines', () => {
    const body = startTokenizationRequest.parse(valid);
    const input = tokenizeInputFromRequest('tokenize-k', body, 1_800_000);
    expect(input.session.order_amount).toBe(1250);
    expect(input.session.merchant_reference1).toBe('order-1');
    expect(input.abandonment_timeout_ms).toBe(1_800_000);
  });

  it('names every bad field', () => {
    const result = startTokenizationRequest.safeParse({
      ...valid,
      purchase_country: 'sweden',
      purchase_currency: 'kr',
      locale: 'sv_se',
      order_amount: 999,
      order_lines: [{ name: '', quantity: 1.5, unit_price: 1, total_amount: 1 }],
      abandonment_timeout: 'forever',
    });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    // Exactly these: the cart rules (order_amount vs the lines) leave malformed lines to the schema.
    expect(paths.sort()).toEqual(['abandonment_timeout', 'locale', 'order_lines.0.name', 'order_lines.0.quantity', 'purchase_country', 'purchase_currency']);
  });

  it('rejects an order_amount that is not the sum of the lines', () => {
    const result = startTokenizationRequest.safeParse({ ...valid, order_amount: 1 });
    expect(result.error?.issues).toEqual([expect.objectContaining({ path: ['order_amount'], message: expect.stringContaining('1250') })]);
  });

  it('bounds the abandonment timeout', () => {
    expect(startTokenizationRequest.parse({ ...valid, abandonment_timeout: '15m' }).abandonment_timeout).toBe(900_000);
    expect(startTokenizationRequest.safeParse({ ...valid, abandonment_timeout: '8d' }).success).toBe(false);
  });
});
