import { z } from 'zod';
import { nonBlankText } from './text.js';
import { durationMs } from '../config/duration.js';
import {
  address,
  countryCode,
  currencyCode,
  customer,
  localeCode,
  minorUnits,
  orderLine,
  type CreateSessionRequest,
} from '../klarna/payments-schemas.js';
import { klarnaPurchaseIssues, sumOfLineTotals } from './klarna-market-rules.js';

/** Longest idempotency key the API accepts. */
export const maxIdempotencyKeyLength = 128;
/** Caller-chosen key that makes a start idempotent (also the flow id's suffix). */
export const idempotencyKey = z
  .string()
  .regex(new RegExp(`^[A-Za-z0-9._:-]{1,${maxIdempotencyKeyLength}}$`), `must be 1-${maxIdempotencyKeyLength} characters of letters, digits, . _ : -`);

/** Flow ids are `tokenize-<idempotency key>`. */
export const tokenizeFlowIdPrefix = 'tokenize-';
/**
 * Longest flow id, and so the longest path parameter of any route (`/v1/tokenizations/:flow_id`,
 * `/klarna/callbacks/authorization/:flow_id`): the API's router must take it (Fastify's
 * `maxParamLength`, which counts the decoded value), or a flow with a long key is unreachable (414).
 */
export const maxFlowIdLength = tokenizeFlowIdPrefix.length + maxIdempotencyKeyLength;
/** A tokenize flow id, as routes take it in their path. */
export const tokenizeFlowIdSchema = z
  .string()
  .regex(new RegExp(`^${tokenizeFlowIdPrefix}[A-Za-z0-9._:-]{1,${maxIdempotencyKeyLength}}$`), 'must be a tokenize flow id');

/** Body of `POST /v1/tokenizations`. */
export const startTokenizationRequest = z
  .object({
    merchant_reference: nonBlankText(255),
    purchase_country: countryCode,
    purchase_currency: currencyCode,
    locale: localeCode,
    /** Shown to the shopper at Klarna for the token, e.g. "Monthly coffee subscription". */
    description: nonBlankText(255),
    order_lines: z.array(orderLine).min(1).max(1000),
    /** Defaults to the sum of `order_lines[].total_amount`; if given, must equal it (Klarna checks too). */
    order_amount: minorUnits.min(0).optional(),
    order_tax_amount: minorUnits.min(0).optional(),
    billing_address: address.optional(),
    customer: customer.omit({ customer_token: true }).optional(),
    /** How long to wait for the shopper before the flow ends as ABANDONED (e.g. `30m`). */
    abandonment_timeout: durationMs
      .refine((ms) => ms >= 1_000 && ms <= 7 * 86_400_000, 'must be between 1s and 7d')
      .optional(),
  })
  .superRefine(
    (body, ctx) => {
      // Klarna's market rules (contracts/klarna-market-rules.ts): market and currency, line
      // arithmetic and tax, order_amount and order_tax_amount, billing country. Checked here so a
      // request Klarna would refuse is a 400 before any flow starts and its key stays unused.
      for (const issue of klarnaPurchaseIssues(body)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
      // The flow sends the lines' sum as order_amount when none is given; Klarna takes no negative one.
      const sum = sumOfLineTotals(body.order_lines);
      if (body.order_amount === undefined && sum !== undefined && sum < 0) {
        ctx.addIssue({ code: 'custom', path: ['order_lines'], message: `total_amount of the lines must not add up to less than 0 (${sum})` });
      }
    },
    {
      // Also when other fields already failed, so one 400 names every problem. The rules judge only
      // the well-formed parts of the body (whatever it holds), so `body` is not trusted here. (zod
      // still skips this after a non-integer number: its int check stops the parse.)
      when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
    },
  );
export type StartTokenizationRequest = z.infer<typeof startTokenizationRequest>;

/** Body of `POST /v1/tokenizations/{flow_id}/authorization`: what the Klarna widget gave the checkout. */
export const submitAuthorizationRequest = z.object({
  authorization_token: nonBlankText(512),
  session_id: nonBlankText(255).optional(),
});
export type SubmitAuthorizationRequest = z.infer<typeof submitAuthorizationRequest>;

/** Klarna's authorization callback body (klarna-api-facts §1). */
export const authorizationCallbackBody = z.object({
  authorization_token: nonBlankText(512),
  session_id: nonBlankText(255),
});
export type AuthorizationCallbackBody = z.infer<typeof authorizationCallbackBody>;

/** Signal payload: the shopper authorized, as told by the checkout or by Klarna's callback. */
export const shopperAuthorization = z.object({
  authorization_token: z.string().min(1),
  session_id: z.string().optional(),
  source: z.enum(['checkout', 'klarna_callback']),
  /** The inbox event it was stored as (klarna_events); the flow takes each event once. */
  event_id: z.string().optional(),
});
export type ShopperAuthorization = z.infer<typeof shopperAuthorization>;

/** Workflow input: the Klarna session body (minus what the saga decides) and the flow's settings. */
export interface TokenizeInput {
  flow_id: string;
  merchant_reference: string;
  session: Omit<CreateSessionRequest, 'intent' | 'merchant_urls' | 'step_up_id'>;
  token_description: string;
  abandonment_timeout_ms: number;
  /** Digest of the start request: a reuse of the idempotency key with another body is refused. */
  request_fingerprint?: string;
  /** The API call that started the flow (its `checkoutSession` update answers `created: true`). */
  start_request_id?: string;
}

export function tokenizeInputFromRequest(
  flowId: string,
  body: StartTokenizationRequest,
  defaultAbandonmentMs: number,
  start?: { fingerprint: string; requestId: string },
): TokenizeInput {
  const orderAmount = body.order_amount ?? body.order_lines.reduce((total, line) => total + line.total_amount, 0);
  return {
    flow_id: flowId,
    merchant_reference: body.merchant_reference,
    session: {
      purchase_country: body.purchase_country,
      purchase_currency: body.purchase_currency,
      locale: body.locale,
      order_amount: orderAmount,
      order_tax_amount: body.order_tax_amount,
      order_lines: body.order_lines,
      merchant_reference1: body.merchant_reference,
      billing_address: body.billing_address,
      customer: body.customer,
    },
    token_description: body.description,
    abandonment_timeout_ms: body.abandonment_timeout ?? defaultAbandonmentMs,
    ...(start ? { request_fingerprint: start.fingerprint, start_request_id: start.requestId } : {}),
  };
}

export const tokenizeFlowId = (key: string) => `${tokenizeFlowIdPrefix}${key}`;
