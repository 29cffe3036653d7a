// Klarna's market rules for a Klarna Payments purchase, as far as the product can check them before
// it starts a flow: a request that breaks one of these would only fail later, at Klarna (the
// session, or — for the billing country — the customer token, after the shopper has approved).
//
// Exactly as strict as Klarna, no stricter: each rule below is one Klarna applies (source named
// with it), with Klarna's tolerances. The project's Klarna simulator (klarna-simulator/
// validation.ts: `klarnaMarketCurrency`, `marketErrors`, `cartErrors`, `lineTaxMatchesRate`, and the
// customer-token route) encodes the same rules; test/unit/klarna-market-rules.test.ts checks the two
// agree. The simulator stands in for Klarna, so nothing here imports it.
//
// Every function is pure and returns `{ path, message }` issues, `path` as zod paths are
// (`['order_lines', 0, 'total_amount']`). They run on request bodies that may also have schema
// errors (so one 400 names every problem): a value that is not well-formed (a country that is not
// two capital letters, an amount that is not an integer, …) is left to the schema, which reports
// it under its own name, and whatever depends on it is not judged.

/** One problem with a purchase: the field and why. */
export interface MarketRuleIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Klarna Payments markets (purchase_country) and the currencies each takes (purchase_currency).
 *
 * Assumption: the facts sheet and the seeds list no markets (seed 001 only shows US/USD and
 * DE/EUR), so this is Klarna's published market list: the "Purchase country, locale, and currency"
 * page of the Klarna Payments docs ("We only support the local currency of each country"; AT BE CA
 * CH CZ DE DK ES FI FR GB GR IE IT NL NO NZ PL PT SE US) plus AU, HU, MX, RO and SK from Klarna's
 * sample-data country list — the 26 markets of the simulator's `klarnaMarketCurrency`, one local
 * currency each. A market Klarna opens is one line here and one in the simulator.
 */
export const klarnaMarketCurrencies: Readonly<Record<string, readonly string[]>> = {
  AT: ['EUR'],
  AU: ['AUD'],
  BE: ['EUR'],
  CA: ['CAD'],
  CH: ['CHF'],
  CZ: ['CZK'],
  DE: ['EUR'],
  DK: ['DKK'],
  ES: ['EUR'],
  FI: ['EUR'],
  FR: ['EUR'],
  GB: ['GBP'],
  GR: ['EUR'],
  HU: ['HUF'],
  IE: ['EUR'],
  IT: ['EUR'],
  MX: ['MXN'],
  NL: ['EUR'],
  NO: ['NOK'],
  NZ: ['NZD'],
  PL: ['PLN'],
  PT: ['EUR'],
  RO: ['RON'],
  SE: ['SEK'],
  SK: ['EUR'],
  US: ['USD'],
};

// Locale: not checked. The facts sheet says only "locale (default en-US)"; the seeds give no rule
// (seed 001's own example sends "us-US"), and the simulator accepts any language-COUNTRY locale.
// Klarna's market page lists the locales it supports per country, but not what it does with
// another one, so refusing here could refuse purchases Klarna takes.

/** A purchase as the rules read it. Any field may be missing or malformed (see the header). */
export interface PurchaseToCheck {
  purchase_country?: unknown;
  purchase_currency?: unknown;
  order_amount?: unknown;
  order_tax_amount?: unknown;
  order_lines?: unknown;
  billing_address?: unknown;
  shipping_address?: unknown;
}

const isCountry = (v: unknown): v is string => typeof v === 'string' && /^[A-Z]{2}$/.test(v);
const isCurrency = (v: unknown): v is string => typeof v === 'string' && /^[A-Z]{3}$/.test(v);
const isAmount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** purchase_country is a Klarna market and purchase_currency one that market takes. */
export function marketIssues(purchase: Pick<PurchaseToCheck, 'purchase_country' | 'purchase_currency'>): MarketRuleIssue[] {
  const { purchase_country: country, purchase_currency: currency } = purchase;
  if (!isCountry(country)) return [];
  const currencies = klarnaMarketCurrencies[country];
  if (!currencies) {
    return [{ path: ['purchase_country'], message: `${country} is not a Klarna Payments market (${Object.keys(klarnaMarketCurrencies).join(', ')})` }];
  }
  if (isCurrency(currency) && !currencies.includes(currency)) {
    return [{ path: ['purchase_currency'], message: `must be ${currencies.join(' or ')} for purchase_country ${country} (Klarna takes only the market's currency)` }];
  }
  return [];
}

interface WellFormedLine {
  quantity: number;
  unit_price: number;
  total_amount: number;
  total_discount_amount?: number;
  tax_rate?: unknown;
  total_tax_amount?: unknown;
}

/** A line whose amounts can be judged: the fields Klarna's arithmetic uses are well-formed. */
function wellFormedLine(line: unknown): line is WellFormedLine {
  if (!isRecord(line)) return false;
  const discount = line.total_discount_amount;
  return (
    isAmount(line.quantity) &&
    line.quantity >= 0 &&
    isAmount(line.unit_price) &&
    isAmount(line.total_amount) &&
    (discount === undefined || (isAmount(discount) && discount >= 0))
  );
}

/**
 * Klarna's line-level tax check (Klarna's tax-handling guide, "the global way"): the rate the line's
 * amounts imply, 100 × total_tax_amount / (total_amount − total_tax_amount) %, is within ±1
 * percentage point of tax_rate (tax_rate 2500 = 25 %). A line with no net amount has no tax.
 */
export function lineTaxMatchesRate(totalAmount: number, totalTaxAmount: number, taxRate: number): boolean {
  const net = totalAmount - totalTaxAmount;
  if (net === 0) return totalTaxAmount === 0;
  const impliedPercent = (100 * totalTaxAmount) / net;
  return Math.abs(impliedPercent - taxRate / 100) <= 1;
}

/**
 * Per order line, as Klarna checks it (Klarna Payments API, order_lines; the simulator's
 * `cartErrors`):
 * - total_amount = quantity × unit_price − total_discount_amount (missing discount = 0), exactly;
 * - when both tax_rate and total_tax_amount are given, total_tax_amount matches tax_rate within
 *   Klarna's tolerance (`lineTaxMatchesRate`). Lines without them (the US way: a separate
 *   sales_tax line) are not tax-checked.
 */
export function orderLineIssues(orderLines: unknown): MarketRuleIssue[] {
  if (!Array.isArray(orderLines)) return [];
  const issues: MarketRuleIssue[] = [];
  orderLines.forEach((line: unknown, i) => {
    if (!wellFormedLine(line)) return;
    const discount = line.total_discount_amount ?? 0;
    const expected = line.quantity * line.unit_price - discount;
    if (line.total_amount !== expected) {
      issues.push({
        path: ['order_lines', i, 'total_amount'],
        message:
          discount === 0
            ? `must equal quantity × unit_price (${line.quantity} × ${line.unit_price} = ${expected})`
            : `must equal quantity × unit_price − total_discount_amount (${line.quantity} × ${line.unit_price} − ${discount} = ${expected})`,
      });
    }
    const { tax_rate: rate, total_tax_amount: tax } = line;
    if (isAmount(rate) && isAmount(tax) && !lineTaxMatchesRate(line.total_amount, tax, rate)) {
      const suggested = Math.round((line.total_amount * rate) / (10_000 + rate));
      issues.push({
        path: ['order_lines', i, 'total_tax_amount'],
        message: `does not match tax_rate ${rate} (${rate / 100} %) of total_amount ${line.total_amount}: expected about ${suggested}; Klarna allows the implied rate, 100 × total_tax_amount / (total_amount − total_tax_amount), to be off by 1 percentage point`,
      });
    }
  });
  return issues;
}

/** The sum of the lines' total_amount, or undefined if any line's total_amount is not well-formed. */
export function sumOfLineTotals(orderLines: unknown): number | undefined {
  if (!Array.isArray(orderLines)) return undefined;
  let sum = 0;
  for (const line of orderLines as unknown[]) {
    if (!isRecord(line) || !isAmount(line.total_amount)) return undefined;
    sum += line.total_amount;
  }
  return sum;
}

/**
 * Order totals, as Klarna checks them:
 * - order_amount (when given) = the sum of order_lines[].total_amount, exactly (Klarna Payments API;
 *   the simulator's `cartErrors`);
 * - order_tax_amount (when given, and when any line carries total_tax_amount) = the sum of
 *   order_lines[].total_tax_amount, within ±(number of order lines): the order-level tolerance of
 *   Klarna's tax-handling guide, as the simulator applies it. Lines without total_tax_amount count 0.
 */
export function orderTotalIssues(purchase: Pick<PurchaseToCheck, 'order_amount' | 'order_tax_amount' | 'order_lines'>): MarketRuleIssue[] {
  const issues: MarketRuleIssue[] = [];
  const { order_amount: orderAmount, order_tax_amount: orderTax, order_lines: lines } = purchase;
  const sum = sumOfLineTotals(lines);
  if (isAmount(orderAmount) && sum !== undefined && orderAmount !== sum) {
    issues.push({ path: ['order_amount'], message: `must equal the sum of order_lines[].total_amount (${sum})` });
  }
  if (isAmount(orderTax) && Array.isArray(lines) && lines.every(isRecord)) {
    const taxes = (lines as Record<string, unknown>[]).map((line) => line.total_tax_amount);
    const judged = taxes.some((tax) => tax !== undefined) && taxes.every((tax) => tax === undefined || isAmount(tax));
    if (judged) {
      const taxSum = taxes.reduce<number>((acc, tax) => acc + ((tax as number | undefined) ?? 0), 0);
      if (Math.abs(taxSum - orderTax) > lines.length) {
        issues.push({
          path: ['order_tax_amount'],
          message: `must equal the sum of order_lines[].total_tax_amount (${taxSum}); Klarna allows ±${lines.length} (one per order line)`,
        });
      }
    }
  }
  return issues;
}

/**
 * billing_address.country (and shipping_address.country, when a shipping address is given) must be
 * purchase_country. Billing: seed 001 and the facts sheet §1 — Klarna refuses the customer token
 * with "BAD_VALUE Bad value: purchase_country" when "the billing address country is different from
 * that of the country specified for this session", i.e. only after the shopper approved; the
 * simulator does the same. Shipping: an assumption from Klarna's market rules (a purchase belongs
 * to one market); neither the seeds nor the simulator check it, and no request the product takes
 * today has a shipping address, so it refuses nothing yet.
 */
export function addressCountryIssues(purchase: Pick<PurchaseToCheck, 'purchase_country' | 'billing_address' | 'shipping_address'>): MarketRuleIssue[] {
  const country = purchase.purchase_country;
  if (!isCountry(country)) return [];
  const issues: MarketRuleIssue[] = [];
  for (const field of ['billing_address', 'shipping_address'] as const) {
    const address = purchase[field];
    if (isRecord(address) && isCountry(address.country) && address.country !== country) {
      issues.push({ path: [field, 'country'], message: `must be the purchase_country (${country}); Klarna refuses a ${field.replace('_', ' ')} in another country` });
    }
  }
  return issues;
}

/** Every market rule at once: market and currency, each line's arithmetic and tax, the totals, the addresses. */
export function klarnaPurchaseIssues(purchase: PurchaseToCheck): MarketRuleIssue[] {
  return [...marketIssues(purchase), ...orderLineIssues(purchase.order_lines), ...orderTotalIssues(purchase), ...addressCountryIssues(purchase)];
}
