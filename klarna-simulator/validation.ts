import { z } from 'zod';
import { KlarnaError } from './errors.js';

// One zod schema per Klarna request body (klarna-api-facts §1–2, seeds 000/001). Objects are not
// strict: Klarna ignores fields it does not know, and so do we (the raw body is still recorded).
// A failed parse becomes Klarna's 400 BAD_VALUE with one "Bad value: <field>" message per field.

const countryCodes = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ ' +
    'DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP ' +
    'KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ ' +
    'OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ ' +
    'UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);
// ISO 4217 codes for the currencies Klarna operates in plus common ones; an unknown but
// well-formed code is still rejected, as Klarna does.
const currencyCodes = new Set(
  'AUD BRL CAD CHF CZK DKK EUR GBP HUF JPY MXN NOK NZD PLN RON SEK USD SGD HKD ZAR TRY INR CNY ILS AED SAR KRW THB MYR IDR PHP CLP COP PEN ARS UAH BGN ISK'.split(' '),
);

export const countryCode = z.string().refine((v) => countryCodes.has(v), 'ISO 3166-1 alpha-2 country code');

/**
 * Klarna Payments markets and the one currency each accepts (Klarna's sample-data country list).
 * Klarna refuses a session outside its markets (`Bad value: purchase_country`) and a currency
 * that is not the market's (`Bad value: purchase_currency`).
 */
export const klarnaMarketCurrency: Readonly<Record<string, string>> = {
  AT: 'EUR', AU: 'AUD', BE: 'EUR', CA: 'CAD', CH: 'CHF', CZ: 'CZK', DE: 'EUR', DK: 'DKK', ES: 'EUR', FI: 'EUR', FR: 'EUR',
  GB: 'GBP', GR: 'EUR', HU: 'HUF', IE: 'EUR', IT: 'EUR', MX: 'MXN', NL: 'EUR', NO: 'NOK', NZ: 'NZD', PL: 'PLN', PT: 'EUR',
  RO: 'RON', SE: 'SEK', SK: 'EUR', US: 'USD',
};
export const currencyCode = z.string().refine((v) => currencyCodes.has(v), 'ISO 4217 currency code');
/** Klarna locales are RFC 1766 language-COUNTRY, e.g. en-US, sv-SE. */
export const localeCode = z.string().regex(/^[a-z]{2}-[A-Z]{2}$/);
const minorUnits = z.number().int();

export const addressSchema = z.object({
  given_name: z.string().max(100).optional(),
  family_name: z.string().max(100).optional(),
  organization_name: z.string().max(255).optional(),
  title: z.string().max(20).optional(),
  email: z.string().max(100).optional(),
  phone: z.string().max(40).optional(),
  street_address: z.string().max(255).optional(),
  street_address2: z.string().max(255).optional(),
  postal_code: z.string().max(20).optional(),
  city: z.string().max(200).optional(),
  region: z.string().max(200).optional(),
  country: countryCode.optional(),
  attention: z.string().optional(),
});
export type Address = z.infer<typeof addressSchema>;

export const customerSchema = z.object({
  date_of_birth: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).optional(),
  gender: z.string().optional(),
  last_four_ssn: z.string().optional(),
  national_identification_number: z.string().optional(),
  organization_registration_id: z.string().optional(),
  title: z.string().optional(),
  type: z.enum(['person', 'organization']).optional(),
  vat_id: z.string().optional(),
  /** Step-up recovery (seed 000): the customer token whose charge failed. */
  customer_token: z.string().min(1).optional(),
});
export type Customer = z.infer<typeof customerSchema>;

export const subscriptionSchema = z.object({
  name: z.string().min(1).max(255),
  interval: z.enum(['DAY', 'WEEK', 'MONTH', 'YEAR']),
  interval_count: z.number().int().min(1),
});

export const orderLineSchema = z.object({
  type: z.enum(['physical', 'discount', 'shipping_fee', 'sales_tax', 'digital', 'gift_card', 'store_credit', 'surcharge']).optional(),
  reference: z.string().max(255).optional(),
  name: z.string().min(1).max(255),
  quantity: z.number().int().min(0),
  quantity_unit: z.string().max(10).optional(),
  unit_price: minorUnits,
  tax_rate: z.number().int().min(0).max(10000).optional(),
  total_amount: minorUnits,
  total_discount_amount: minorUnits.min(0).optional(),
  total_tax_amount: minorUnits.optional(),
  merchant_data: z.string().max(1024).optional(),
  product_url: z.string().max(1024).optional(),
  image_url: z.string().max(1024).optional(),
  subscription: subscriptionSchema.optional(),
});
export type OrderLine = z.infer<typeof orderLineSchema>;

export const intentSchema = z.enum(['buy', 'tokenize', 'buy_and_tokenize']);
export type Intent = z.infer<typeof intentSchema>;

const httpUrl = z.url({ protocol: /^https?$/ });

export const merchantUrlsSchema = z.object({
  confirmation: httpUrl.optional(),
  notification: httpUrl.optional(),
  push: httpUrl.optional(),
  authorization: httpUrl.optional(),
});

const acquiringChannel = z.enum(['ECOMMERCE', 'IN_STORE', 'TELESALES']);

/** Fields shared by a session and an order placed from an authorization. */
const purchaseFields = {
  purchase_country: countryCode,
  purchase_currency: currencyCode,
  locale: localeCode.default('en-US'),
  order_amount: minorUnits.min(0),
  order_tax_amount: minorUnits.min(0).optional(),
  order_lines: z.array(orderLineSchema).min(1).max(1000),
  billing_address: addressSchema.optional(),
  shipping_address: addressSchema.optional(),
  customer: customerSchema.optional(),
  merchant_reference1: z.string().max(255).optional(),
  merchant_reference2: z.string().max(255).optional(),
  merchant_data: z.string().max(6000).optional(),
  merchant_urls: merchantUrlsSchema.optional(),
  attachment: z.object({ body: z.string(), content_type: z.string() }).optional(),
  options: z.record(z.string(), z.unknown()).optional(),
};

/**
 * The purchase must be in a Klarna market and in that market's currency. Judged only once both
 * fields are well-formed codes, so a malformed field is reported once, under its own name.
 */
export function marketErrors(country: string | undefined, currency: string | undefined): string[] {
  if (country === undefined || !countryCodes.has(country)) return [];
  const expected = klarnaMarketCurrency[country];
  if (!expected) return ['purchase_country'];
  if (currency !== undefined && currencyCodes.has(currency) && currency !== expected) return ['purchase_currency'];
  return [];
}

function marketRefinement(b: { purchase_country?: string; purchase_currency?: string }, ctx: z.RefinementCtx): void {
  for (const field of marketErrors(b.purchase_country, b.purchase_currency)) ctx.addIssue({ code: 'custom', path: [field], message: 'not a Klarna market/currency' });
}

export const createSessionSchema = z
  .object({
    ...purchaseFields,
    intent: intentSchema.default('buy'),
    acquiring_channel: acquiringChannel.default('ECOMMERCE'),
    /** Step-up recovery session (seed 000), together with customer.customer_token. */
    step_up_id: z.string().min(1).optional(),
  })
  .superRefine(marketRefinement);
export type CreateSessionBody = z.infer<typeof createSessionSchema>;

/**
 * Update session: every field optional; intent and step-up data are fixed at creation. The
 * merged result is validated again (amount = sum of lines).
 */
export const updateSessionSchema = z
  .object({ ...purchaseFields, locale: localeCode })
  .partial()
  .extend({ acquiring_channel: acquiringChannel.optional() });
export type UpdateSessionBody = z.infer<typeof updateSessionSchema>;

export const createOrderSchema = z
  .object({
    ...purchaseFields,
    auto_capture: z.boolean().optional(),
  })
  .superRefine(marketRefinement);
export type CreateOrderBody = z.infer<typeof createOrderSchema>;

export const createCustomerTokenSchema = z
  .object({
    purchase_country: countryCode,
    purchase_currency: currencyCode,
    locale: localeCode,
    description: z.string().min(1).max(255),
    intended_use: z.literal('SUBSCRIPTION'),
    billing_address: addressSchema.optional(),
    customer: customerSchema.optional(),
  })
  .superRefine(marketRefinement);
export type CreateCustomerTokenBody = z.infer<typeof createCustomerTokenSchema>;

export const createTokenOrderSchema = z.object({
  purchase_currency: currencyCode,
  order_amount: minorUnits.min(1),
  order_tax_amount: minorUnits.min(0),
  order_lines: z.array(orderLineSchema).min(1).max(1000),
  auto_capture: z.boolean().optional(),
  locale: localeCode.optional(),
  merchant_reference1: z.string().max(255).optional(),
  merchant_reference2: z.string().max(255).optional(),
  merchant_data: z.string().max(6000).optional(),
  merchant_urls: z.object({ confirmation: httpUrl.optional(), push: httpUrl.optional(), notification: httpUrl.optional() }).optional(),
  shipping_address: addressSchema.optional(),
  billing_address: addressSchema.optional(),
  subscription: subscriptionSchema.optional(),
  /** Seed 000: SUPPORTED when the customer is present and step-up recovery can follow. */
  step_up: z.enum(['SUPPORTED', 'NOT_SUPPORTED']).default('NOT_SUPPORTED'),
});
export type CreateTokenOrderBody = z.infer<typeof createTokenOrderSchema>;

export const updateTokenStatusSchema = z.object({
  // Klarna only lets merchants cancel a token; other values are a bad value.
  status: z.literal('CANCELLED'),
});

/** A merchant URL that may carry HPP placeholders such as {{session_id}}. */
const urlTemplate = z.string().refine((v) => {
  try {
    const u = new URL(v.replace(/\{\{\w+\}\}/g, 'x'));
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
});

/** Hosted Payment Page v1 create (klarna-api-facts §3, seed 000). */
export const createHppSessionSchema = z.object({
  payment_session_url: z.url({ protocol: /^https?$/ }),
  merchant_urls: z
    .object({
      back: urlTemplate.optional(),
      cancel: urlTemplate.optional(),
      error: urlTemplate.optional(),
      failure: urlTemplate.optional(),
      status_update: urlTemplate.optional(),
      success: urlTemplate.optional(),
    })
    .optional(),
  options: z
    .object({
      place_order_mode: z.enum(['NONE', 'PLACE_ORDER', 'CAPTURE_ORDER']).default('NONE'),
      purchase_type: z.string().optional(),
      page_title: z.string().max(255).optional(),
      logo_url: z.url().optional(),
      background_images: z.array(z.object({ url: z.url(), width: z.number().int().optional() })).optional(),
    })
    .loose()
    .optional(),
});
export type CreateHppSessionBody = z.infer<typeof createHppSessionSchema>;

/** "order_lines[0].total_amount" from zod's ['order_lines', 0, 'total_amount']. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || 'body';
}

/** Parses a Klarna request body or throws Klarna's 400 BAD_VALUE naming every bad field. */
export function parseKlarnaBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new KlarnaError(400, 'BAD_REQUEST', ['Request body must be a JSON object']);
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const fields = [...new Set(parsed.error.issues.map((i) => fieldPath(i.path)))];
  throw new KlarnaError(400, 'BAD_VALUE', fields.map((f) => `Bad value: ${f}`));
}

/**
 * Klarna's arithmetic checks on a cart: each line's total is quantity × unit price minus its
 * discount; order_amount is the sum of the line totals. Tax, as Klarna's tax-handling guide
 * describes it: per line, the rate implied by total_tax_amount, 100 × tax / (total − tax) %, is
 * within ±1 percentage point of tax_rate (a rate of 2500 = 25 %); per order, order_tax_amount is
 * within ±(number of lines) of the sum of the lines' total_tax_amount. Lines without tax fields
 * (the US way: a separate sales_tax line) are not tax-checked.
 */
export function cartErrors(cart: { order_amount: number; order_tax_amount?: number; order_lines: OrderLine[] }): string[] {
  const errors: string[] = [];
  cart.order_lines.forEach((line, i) => {
    if (line.total_amount !== line.quantity * line.unit_price - (line.total_discount_amount ?? 0)) {
      errors.push(`Bad value: order_lines[${i}].total_amount`);
    }
    if (line.tax_rate !== undefined && line.total_tax_amount !== undefined && !lineTaxMatchesRate(line.total_amount, line.total_tax_amount, line.tax_rate)) {
      errors.push(`Bad value: order_lines[${i}].total_tax_amount`);
    }
  });
  const sum = cart.order_lines.reduce((acc, l) => acc + l.total_amount, 0);
  if (sum !== cart.order_amount) errors.push('Bad value: order_amount');
  if (cart.order_tax_amount !== undefined && cart.order_lines.some((l) => l.total_tax_amount !== undefined)) {
    const tax = cart.order_lines.reduce((acc, l) => acc + (l.total_tax_amount ?? 0), 0);
    if (Math.abs(tax - cart.order_tax_amount) > cart.order_lines.length) errors.push('Bad value: order_tax_amount');
  }
  return errors;
}

/** Klarna's line-level tax tolerance: the implied rate within ±1 percentage point of tax_rate. */
export function lineTaxMatchesRate(totalAmount: number, totalTax: number, taxRate: number): boolean {
  const net = totalAmount - totalTax;
  if (net === 0) return totalTax === 0;
  const impliedPercent = (100 * totalTax) / net;
  return Math.abs(impliedPercent - taxRate / 100) <= 1;
}

export function assertCart(cart: Parameters<typeof cartErrors>[0]): void {
  const errors = cartErrors(cart);
  if (errors.length) throw new KlarnaError(400, 'BAD_VALUE', errors);
}

// --- Klarna v2 (klarna-api-facts §4; seeds 002, 003) ---

export const tokenScopesSchema = z.array(z.enum(['payment:customer_present', 'payment:customer_not_present'])).min(1);
const requestCustomerTokenSchema = z.object({ scopes: tokenScopesSchema, customer_token_reference: z.string().max(255).optional() });
/** ISO 8601 duration as Klarna's interaction_expiry takes it (PT15M, PT1H, P1DT12H) → ms. */
export function isoDurationMs(value: string): number | undefined {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(value);
  if (!m || value === 'P' || value.endsWith('T')) return undefined;
  const [, d, h, min, sec] = m.map((x) => Number(x ?? 0));
  return (((d! * 24 + h!) * 60 + min!) * 60 + sec!) * 1000;
}

/**
 * Custom Payment Request expiry (Klarna: `interaction_expiry` {duration} or {timestamp}, 15 min to
 * 48 h). The range is judged against the simulator clock when the request is made.
 */
const interactionExpirySchema = z
  .object({
    duration: z.string().refine((v) => isoDurationMs(v) !== undefined, 'ISO 8601 duration, e.g. PT15M').optional(),
    timestamp: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((v) => (v.duration === undefined) !== (v.timestamp === undefined), 'exactly one of duration or timestamp');

const customerInteractionConfigSchema = z.object({
  method: z.literal('HANDOVER').default('HANDOVER'),
  // May carry Klarna's {klarna.payment_request.*} placeholders; filled in when the shopper returns.
  return_url: httpUrl.optional(),
  app_return_url: z.string().min(1).optional(),
  interaction_expiry: interactionExpirySchema.optional(),
});

export const createPaymentRequestSchema = z
  .object({
    currency: currencyCode,
    /** Absent for token creation only (seed 003). */
    amount: z.number().int().min(0).optional(),
    payment_request_reference: z.string().max(255).optional(),
    payment_option_id: z.string().optional(),
    supplementary_purchase_data: z.record(z.string(), z.unknown()).optional(),
    request_customer_token: requestCustomerTokenSchema.optional(),
    customer_interaction_config: customerInteractionConfigSchema.optional(),
  })
  .refine((b) => b.amount !== undefined || b.request_customer_token !== undefined, {
    message: 'amount is required unless request_customer_token is present',
    path: ['amount'],
  });
export type CreatePaymentRequestBody = z.infer<typeof createPaymentRequestSchema>;

export const authorizeV2Schema = z
  .object({
    currency: currencyCode,
    request_payment_transaction: z
      .object({ amount: z.number().int().min(1), payment_transaction_reference: z.string().max(255).optional(), payment_option_id: z.string().optional() })
      .optional(),
    request_customer_token: requestCustomerTokenSchema.optional(),
    step_up_config: z
      .object({ payment_request_reference: z.string().max(255).optional(), customer_interaction_config: customerInteractionConfigSchema.optional() })
      .optional(),
    supplementary_purchase_data: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((b) => b.request_payment_transaction !== undefined || b.request_customer_token !== undefined, {
    message: 'request_payment_transaction or request_customer_token is required',
    path: ['request_payment_transaction'],
  });
export type AuthorizeV2Body = z.infer<typeof authorizeV2Schema>;

/** v2 bodies fail as 400 INPUT_ERROR with errors[{parameter, error_message}] (v2 error shape). */
export function parseV2Body<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new KlarnaError(400, 'INVALID_CONTENT', ['Request body must be a JSON object']);
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  throw new KlarnaError(400, 'INVALID_CONTENT', ['Request validation failed'], {
    errors: parsed.error.issues.map((i) => ({ parameter: fieldPath(i.path), error_message: i.message })),
  });
}
