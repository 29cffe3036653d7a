import { z } from 'zod';
import { hppStatuses, stepUpStates } from './flow-states.js';
import { durationMs } from '../config/duration.js';
import { chargeFlowIdPrefix, type ChargeInput } from './charge.js';
import { maxIdempotencyKeyLength } from './tokenize.js';
import { cancellation, flowFailure } from './flow-status.js';

// Step-up recovery (seed 000): after a token charge with the shopper present was refused with a
// `step_up_id`, the shopper picks a new payment method in a new Klarna session (JS SDK widget or
// Hosted Payment Page) and the failed charge's order is placed from that authorization.

export const stepUpIntegration = z.enum(['sdk', 'hpp']);
export type StepUpIntegration = z.infer<typeof stepUpIntegration>;
export const placeOrderMode = z.enum(['NONE', 'PLACE_ORDER', 'CAPTURE_ORDER']);
export type PlaceOrderMode = z.infer<typeof placeOrderMode>;

const httpUrl = z.url({ protocol: /^https?$/ }).max(2000);

/** Body of `POST /v1/charges/{charge_id}/step-up`. */
export const startStepUpRequest = z.object({
  integration: stepUpIntegration,
  /** HPP only: who places the order (NONE: we do, from the authorization) and where Klarna sends the shopper. */
  hpp: z
    .object({
      place_order_mode: placeOrderMode.optional(),
      success_url: httpUrl.optional(),
      cancel_url: httpUrl.optional(),
      back_url: httpUrl.optional(),
      failure_url: httpUrl.optional(),
      error_url: httpUrl.optional(),
    })
    .optional(),
  /** How long the shopper may take (default 30m, 1m to 24h); then the recovery ends ABANDONED (or DECLINED after a decline). */
  shopper_timeout: durationMs.refine((ms) => ms >= 60_000 && ms <= 24 * 3_600_000, 'must be between 1m and 24h').optional(),
}).refine((body) => body.integration === 'hpp' || body.hpp === undefined, { path: ['hpp'], message: 'only with integration "hpp"' });
export type StartStepUpRequest = z.infer<typeof startStepUpRequest>;

export const stepUpState = z.enum(stepUpStates);
export type StepUpState = z.infer<typeof stepUpState>;
export { isTerminalStepUpState, terminalStepUpStates } from './flow-states.js';

/** Klarna's HPP session statuses (klarna-api-facts §3). FAILED, BACK and ERROR allow another attempt. */
export const hppStatus = z.enum(hppStatuses);
export type HppStatus = z.infer<typeof hppStatus>;
export { retryableHppStatuses } from './flow-states.js';

/** What the checkout must do next. */
export const stepUpNextAction = z.enum(['wait', 'authorize_in_widget', 'redirect_to_hpp', 'none']);

export const stepUpOrder = z.object({
  order_id: z.string(),
  /** `merchant`: we placed it from the authorization; `hpp`: the HPP placed it (PLACE_ORDER, CAPTURE_ORDER). */
  placed_by: z.enum(['merchant', 'hpp']),
  fraud_status: z.enum(['ACCEPTED', 'PENDING', 'REJECTED']).optional(),
  klarna_reference: z.string().optional(),
});
export type StepUpOrder = z.infer<typeof stepUpOrder>;

export const stepUpStatus = z.object({
  flow_id: z.string(),
  flow_type: z.literal('step_up'),
  state: stepUpState,
  merchant_reference: z.string(),
  charge_id: z.string(),
  token_ref: z.string(),
  integration: stepUpIntegration,
  next_action: stepUpNextAction,
  /** The new Klarna Payments session (the recovery session). */
  session_id: z.string().optional(),
  /** SDK path: for `Klarna.Payments.init` on the checkout page; not a credential. */
  client_token: z.string().optional(),
  hpp: z
    .object({
      session_id: z.string(),
      redirect_url: z.string(),
      place_order_mode: placeOrderMode,
      status: hppStatus,
      expires_at: z.string().optional(),
      /** Attempts that ended FAILED, BACK or ERROR (the shopper may try again). */
      failed_attempts: z.number().int(),
    })
    .optional(),
  authorization: z.object({ source: z.enum(['checkout', 'klarna_callback', 'hpp']), received_at: z.string(), expires_at: z.string() }).optional(),
  /** The recovery's order (the failed charge's order), once placed. */
  order: stepUpOrder.optional(),
  failure: flowFailure.optional(),
  /** Set when the checkout ended the recovery (POST …/step-up/cancel). */
  cancellation: cancellation.optional(),
  /** Authorizations that arrived twice, for another session, or after the outcome. */
  ignored_authorizations: z.number().int(),
  /** HPP status updates that arrived twice, out of order, or after the outcome. */
  ignored_status_updates: z.number().int(),
  started_at: z.string(),
  updated_at: z.string(),
});
export type StepUpStatus = z.infer<typeof stepUpStatus>;

/** What an HPP session read (or its status_update) says. */
export interface HppSessionView {
  session_id: string;
  status: HppStatus;
  updated_at?: string;
  expires_at?: string;
  authorization_token?: string;
  order_id?: string;
  klarna_reference?: string;
  /** The status_update's event id, when it came by callback. */
  event_id?: string;
}

export interface StepUpInput {
  flow_id: string;
  charge_id: string;
  merchant_reference: string;
  token_ref: string;
  step_up_id: string;
  order: ChargeInput['order'];
  integration: StepUpIntegration;
  hpp?: {
    place_order_mode: PlaceOrderMode;
    merchant_urls: { success?: string; cancel?: string; back?: string; failure?: string; error?: string };
  };
  shopper_timeout_ms: number;
  request_fingerprint?: string;
  start_request_id?: string;
}

export const DEFAULT_SHOPPER_TIMEOUT_MS = 30 * 60_000;

export const stepUpFlowIdPrefix = 'stepup-';
export const stepUpFlowId = (chargeId: string) => `${stepUpFlowIdPrefix}${chargeId}`;
export const stepUpFlowIdSchema = z.string().regex(new RegExp(`^${stepUpFlowIdPrefix}${chargeFlowIdPrefix}[A-Za-z0-9._:-]{1,${maxIdempotencyKeyLength}}$`), 'must be a step-up flow id');

/** Body of Klarna's HPP status_update callback: `{event_id, session: <GET /hpp/v1/sessions/{id}>}`. */
export const hppStatusUpdateBody = z.object({
  event_id: z.string().min(1).max(200),
  session: z
    .object({
      session_id: z.string().min(1).max(200),
      status: hppStatus,
      updated_at: z.string().max(100).optional(),
      expires_at: z.string().max(100).optional(),
      authorization_token: z.string().max(500).optional(),
      order_id: z.string().max(200).optional(),
      klarna_reference: z.string().max(200).optional(),
    })
    .passthrough(),
});
export type HppStatusUpdateBody = z.infer<typeof hppStatusUpdateBody>;
