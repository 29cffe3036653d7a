import { describe, expect, it } from 'vitest';
import {
  addressCountryIssues,
  klarnaMarketCurrencies,
  klarnaPurchaseIssues,
  lineTaxMatchesRate,
  marketIssues,
  orderLineIssues,
  orderTotalIssues,
  type MarketRuleIssue,
} from '../../contracts/klarna-market-rules.js';
import { startTokenizationRequest } from '../../contracts/tokenize.js';
// The simulator stands in for Klarna: the product's rules must agree with it (tests only; the
// product never imports it).
import { cartErrors, klarnaMarketCurrency, marketErrors, lineTaxMatchesRate as simulatorLineTax } from '../../klarna-simulator/validation.js';

const paths = (issues: MarketRuleIssue[]) => issues.map((i) => i.path.join('.'));
/** "order_lines.0.total_amount" → "order_lines[0].total_amount", the simulator's spelling. */
const klarnaField = (path: string) => path.replace(/\.(\d+)(?=\.|$)/g, '[$1]');

const line = (overrides: object = {}) => ({ name: 'Coffee', quantity: 2, unit_price: 500, total_amount: 1000, ...overrides });

describe('markets and currencies', () => {
  it('has the same markets and currencies as Klarna (the simulator)', () => {
    expect(Object.keys(klarnaMarketCurrencies).sort()).toEqual(Object.keys(klarnaMarketCurrency).sort());
    for (const [country, currency] of Object.entries(klarnaMarketCurrency)) expect(klarnaMarketCurrencies[country]).toEqual([currency]);
  });

  it('takes each market with its currency', () => {
    for (const [country, currencies] of Object.entries(klarnaMarketCurrencies)) {
      expect(marketIssues({ purchase_country: country, purchase_currency: currencies[0] })).toEqual([]);
    }
  });

  it('names purchase_currency for another currency: SE+USD, US+SEK, DE+SEK', () => {
    expect(marketIssues({ purchase_country: 'SE', purchase_currency: 'USD' })).toEqual([
      { path: ['purchase_currency'], message: expect.stringMatching(/SEK.*SE/) },
    ]);
    expect(paths(marketIssues({ purchase_country: 'US', purchase_currency: 'SEK' }))).toEqual(['purchase_currency']);
    expect(paths(marketIssues({ purchase_country: 'DE', purchase_currency: 'SEK' }))).toEqual(['purchase_currency']);
  });

  it('names purchase_country outside Klarna markets', () => {
    expect(paths(marketIssues({ purchase_country: 'JP', purchase_currency: 'JPY' }))).toEqual(['purchase_country']);
  });

  it('leaves malformed codes to the schema', () => {
    expect(marketIssues({ purchase_country: 'Sweden', purchase_currency: 'USD' })).toEqual([]);
    expect(marketIssues({ purchase_country: 'SE', purchase_currency: 'kr' })).toEqual([]);
    expect(marketIssues({})).toEqual([]);
  });

  it('agrees with the simulator on every pair of markets and currencies', () => {
    const currencies = [...new Set(Object.values(klarnaMarketCurrency)), 'JPY'];
    for (const country of [...Object.keys(klarnaMarketCurrency), 'JP', 'BR']) {
      for (const currency of currencies) {
        expect(paths(marketIssues({ purchase_country: country, purchase_currency: currency })), `${country}+${currency}`).toEqual(marketErrors(country, currency));
      }
    }
  });
});

describe('order lines', () => {
  it('takes quantity × unit_price − total_discount_amount', () => {
    expect(orderLineIssues([line(), line({ quantity: 3, unit_price: 1000, total_discount_amount: 500, total_amount: 2500 })])).toEqual([]);
    expect(orderLineIssues([line({ type: 'discount', quantity: 1, unit_price: -200, total_amount: -200 })])).toEqual([]);
  });

  it('names total_amount when quantity × unit_price differs', () => {
    expect(orderLineIssues([line(), line({ total_amount: 999 })])).toEqual([
      { path: ['order_lines', 1, 'total_amount'], message: expect.stringContaining('2 × 500 = 1000') },
    ]);
  });

  it('names total_amount when the discount is left out or not subtracted', () => {
    const issues = orderLineIssues([line({ quantity: 2, unit_price: 1000, total_discount_amount: 200, total_amount: 2000 })]);
    expect(issues).toEqual([{ path: ['order_lines', 0, 'total_amount'], message: expect.stringContaining('2 × 1000 − 200 = 1800') }]);
  });

  it('checks tax against tax_rate with Klarna’s ±1 percentage point', () => {
    // 25 % of 1000 net: 1250 gross, 250 tax.
    expect(orderLineIssues([line({ quantity: 1, unit_price: 1250, total_amount: 1250, tax_rate: 2500, total_tax_amount: 250 })])).toEqual([]);
    // 257 tax implies 25.88 % (within 1 point of 25 %); 258 implies 26.01 %.
    expect(orderLineIssues([line({ quantity: 1, unit_price: 1250, total_amount: 1250, tax_rate: 2500, total_tax_amount: 257 })])).toEqual([]);
    expect(orderLineIssues([line({ quantity: 1, unit_price: 1250, total_amount: 1250, tax_rate: 2500, total_tax_amount: 258 })])).toEqual([
      { path: ['order_lines', 0, 'total_tax_amount'], message: expect.stringContaining('expected about 250') },
    ]);
    // Only with both fields: the US way (a separate sales_tax line) is not tax-checked.
    expect(orderLineIssues([line({ tax_rate: 2500 }), line({ total_tax_amount: 999 })])).toEqual([]);
  });

  it('computes the line tax tolerance exactly as the simulator does', () => {
    for (const total of [0, 1, 99, 1000, 1250, 59500, -500]) {
      for (const tax of [0, 1, 10, 100, 199, 200, 201, 250, 258, 259, 11900, -100]) {
        for (const rate of [0, 600, 1200, 2000, 2500, 10000]) {
          expect(lineTaxMatchesRate(total, tax, rate), `${total}/${tax}/${rate}`).toBe(simulatorLineTax(total, tax, rate));
        }
      }
    }
  });

  it('leaves malformed lines to the schema', () => {
    expect(orderLineIssues([{ name: 'x', quantity: -1, unit_price: 1.5 }, 'junk', null])).toEqual([]);
    expect(orderLineIssues('x')).toEqual([]);
  });
});

describe('order totals', () => {
  it('names order_amount when it is not the sum of the lines', () => {
    expect(orderTotalIssues({ order_amount: 1500, order_lines: [line(), line()] })).toEqual([
      { path: ['order_amount'], message: expect.stringContaining('(2000)') },
    ]);
    expect(orderTotalIssues({ order_amount: 2000, order_lines: [line(), line()] })).toEqual([]);
    expect(orderTotalIssues({ order_lines: [line()] })).toEqual([]);
  });

  it('names order_tax_amount off the sum of line taxes by more than one per line', () => {
    const lines = [line({ total_tax_amount: 200 }), line({ total_tax_amount: 200 })];
    expect(orderTotalIssues({ order_tax_amount: 402, order_lines: lines })).toEqual([]);
    expect(orderTotalIssues({ order_tax_amount: 398, order_lines: lines })).toEqual([]);
    expect(orderTotalIssues({ order_tax_amount: 403, order_lines: lines })).toEqual([
      { path: ['order_tax_amount'], message: expect.stringContaining('(400)') },
    ]);
    expect(paths(orderTotalIssues({ order_tax_amount: 0, order_lines: lines }))).toEqual(['order_tax_amount']);
    // No line carries tax: nothing to compare with (Klarna's US way).
    expect(orderTotalIssues({ order_tax_amount: 500, order_lines: [line()] })).toEqual([]);
  });

  it('agrees with the simulator’s cart checks', () => {
    const carts = [
      { order_amount: 1000, order_lines: [line()] },
      { order_amount: 999, order_lines: [line()] },
      { order_amount: 1999, order_lines: [line(), line({ total_amount: 999 })] },
      { order_amount: 1800, order_lines: [line({ unit_price: 1000, total_discount_amount: 200, total_amount: 1800 })] },
      { order_amount: 2000, order_lines: [line({ unit_price: 1000, total_discount_amount: 200, total_amount: 2000 })] },
      { order_amount: 1250, order_tax_amount: 250, order_lines: [line({ quantity: 1, unit_price: 1250, total_amount: 1250, tax_rate: 2500, total_tax_amount: 250 })] },
      { order_amount: 1250, order_tax_amount: 300, order_lines: [line({ quantity: 1, unit_price: 1250, total_amount: 1250, tax_rate: 2500, total_tax_amount: 300 })] },
      { order_amount: 2000, order_tax_amount: 0, order_lines: [line({ total_tax_amount: 200 }), line()] },
      { order_amount: 2000, order_tax_amount: 201, order_lines: [line({ total_tax_amount: 200 }), line()] },
      { order_amount: 62400, order_tax_amount: 10400, order_lines: [
        line({ quantity: 1, unit_price: 59500, total_amount: 59500, tax_rate: 2000, total_tax_amount: 9917 }),
        line({ quantity: 1, unit_price: 2900, total_amount: 2900, tax_rate: 2000, total_tax_amount: 483 }),
      ] },
    ];
    for (const cart of carts) {
      const ours = paths([...orderLineIssues(cart.order_lines), ...orderTotalIssues(cart)]).map(klarnaField).sort();
      const klarna = cartErrors(cart).map((e) => e.replace('Bad value: ', '')).sort();
      expect(ours, JSON.stringify(cart)).toEqual(klarna);
    }
  });
});

describe('addresses', () => {
  it('names billing_address.country (and shipping_address.country) outside the purchase country', () => {
    expect(addressCountryIssues({ purchase_country: 'SE', billing_address: { country: 'SE' } })).toEqual([]);
    expect(addressCountryIssues({ purchase_country: 'SE', billing_address: {} })).toEqual([]);
    expect(addressCountryIssues({ purchase_country: 'SE', billing_address: { country: 'NO' } })).toEqual([
      { path: ['billing_address', 'country'], message: expect.stringContaining('(SE)') },
    ]);
    expect(paths(addressCountryIssues({ purchase_country: 'SE', billing_address: { country: 'SE' }, shipping_address: { country: 'DK' } }))).toEqual([
      'shipping_address.country',
    ]);
    expect(addressCountryIssues({ purchase_country: 'Sweden', billing_address: { country: 'SE' } })).toEqual([]);
  });
});

describe('all rules at once', () => {
  it('names every problem', () => {
    const issues = klarnaPurchaseIssues({
      purchase_country: 'SE',
      purchase_currency: 'USD',
      order_amount: 5,
      order_tax_amount: 999,
      order_lines: [line({ total_amount: 1, total_tax_amount: 0 })],
      billing_address: { country: 'NO' },
    });
    expect(paths(issues).sort()).toEqual(['billing_address.country', 'order_amount', 'order_lines.0.total_amount', 'order_tax_amount', 'purchase_currency']);
  });

  it('are applied by the start request schema, with other schema errors', () => {
    const result = startTokenizationRequest.safeParse({
      merchant_reference: 'r',
      purchase_country: 'US',
      purchase_currency: 'SEK',
      locale: 'english',
      description: 'Coffee',
      order_lines: [line({ total_amount: 1 })],
      billing_address: { country: 'CA' },
    });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path.join('.')).sort()).toEqual([
      'billing_address.country',
      'locale',
      'order_lines.0.total_amount',
      'purchase_currency',
    ]);
  });

  it('still refuses lines that add up to less than zero when order_amount is left out', () => {
    const result = startTokenizationRequest.safeParse({
      merchant_reference: 'r',
      purchase_country: 'SE',
      purchase_currency: 'SEK',
      locale: 'sv-SE',
      description: 'Coffee',
      order_lines: [line({ quantity: 1, unit_price: -100, total_amount: -100 })],
    });
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(['order_lines']);
  });
});
