import { createHash } from 'node:crypto';
import {
  DEFAULT_FALLBACK_READ_AFTER_MS,
  DEFAULT_V2_RETRY_DEADLINE_MS,
  isTerminalV2AuthorizeState,
  isTerminalV2PaymentRequestState,
  scopesOf,
  v2AuthorizeFlowIdPrefix,
  v2ChargeFlowIdPrefix,
  v2PaymentRequestFlowIdPrefix,
  type StartV2AuthorizationRequest,
  type StartV2ChargeRequest,
  type StartV2PaymentRequestRequest,
  type V2AuthorizeInput,
  type V2AuthorizeStatus,
  type V2PaymentRequestInput,
  type V2PaymentRequestStatus,
} from '../contracts/v2.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';
import type { V2Repository } from '../persistence/v2-repository.js';
import type { TokenVault } from '../persistence/token-vault.js';
import { v2AuthorizeAnswerUpdate, v2AuthorizeStatusQuery, v2PaymentRequestCreatedUpdate, v2PaymentRequestStatusQuery } from '../workflows/definitions.js';
import { initialV2AuthorizeStatus } from '../contracts/v2-initial-status.js';
import { ApiError } from './errors.js';
import type { FlowGateway, StartOutcome } from './flow-gateway.js';

export interface V2FlowsOptions {
  gateway: FlowGateway;
  taskQueue: string;
  flows: FlowsRepository;
  /** Absent: v2 storage is not configured (token charges and hand-offs answer 503). */
  repository?: V2Repository;
  vault: TokenVault;
  /** KLARNA_WEBHOOK_FALLBACK_READ_AFTER: when a flow reads the payment request itself if no webhook came. */
  fallbackReadAfterMs?: number;
}

/**
 * What Klarna decides on (everything but our merchant reference and retry settings), hashed: the
 * same context as a DECLINED flow is refused (seed 002: a decline is not replayed without a
 * change of context).
 */
export function declineContext(kind: string, body: Record<string, unknown>): string {
  const { merchant_reference: _reference, retry_deadline: _deadline, ...rest } = body;
  const canonical = (value: unknown): string => {
    if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
    if (value && typeof value === 'object') {
      return `{${Object.entries(value)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
        .join(',')}}`;
    }
    return JSON.stringify(value);
  };
  return createHash('sha256').update(`${kind}:${canonical(rest)}`).digest('hex').slice(0, 40);
}

/** Starting and reading the Klarna v2 flows on Temporal, for the HTTP routes; every call bounded. */
export function v2Flows(options: V2FlowsOptions) {
  const { gateway } = options;
  const fallbackReadAfterMs = options.fallbackReadAfterMs ?? DEFAULT_FALLBACK_READ_AFTER_MS;
  const storage = () => {
    if (!options.repository) throw new ApiError(503, 'temporarily_unavailable', 'Klarna v2 storage is not configured on this API.');
    return options.repository;
  };

  const authorizeStatus = (flowId: string) => gateway.read<V2AuthorizeStatus>(flowId, (handle) => handle.query(v2AuthorizeStatusQuery));
  const paymentRequestStatus = (flowId: string) => gateway.read<V2PaymentRequestStatus>(flowId, (handle) => handle.query(v2PaymentRequestStatusQuery));

  async function refuseDeclinedContext(flowType: string, context: string) {
    const declined = await options.flows.findDeclined(flowType, context);
    if (declined) {
      throw new ApiError(
        409,
        'declined_before',
        `Klarna declined the same request in flow ${declined._id}; a decline is not replayed without a change of context (amount, token, purchase data, interoperability token).`,
      );
    }
  }

  const startingAuthorize = (input: V2AuthorizeInput): V2AuthorizeStatus => initialV2AuthorizeStatus(input, new Date().toISOString());

  function startAuthorizeFlow(flowId: string, idempotencyKey: string, body: object, input: V2AuthorizeInput, waitMs: number): Promise<StartOutcome<V2AuthorizeStatus>> {
    return gateway.startWithUpdate<V2AuthorizeStatus>({
      workflowType: 'v2AuthorizeWorkflow',
      flowId,
      idempotencyKey,
      taskQueue: options.taskQueue,
      body,
      input: (start) => ({ ...input, request_fingerprint: start.fingerprint, start_request_id: start.requestId }),
      update: v2AuthorizeAnswerUpdate,
      waitMs,
      read: authorizeStatus,
      starting: () => startingAuthorize(input),
      settled: (current) => current.state !== 'AUTHORIZING',
    });
  }

  return {
    authorizeStatus,
    authorizeStatusWhenChanged: (flowId: string, waitMs: number) =>
      gateway.readWhenChanged<V2AuthorizeStatus>(flowId, (handle) => handle.query(v2AuthorizeStatusQuery), waitMs, isTerminalV2AuthorizeState),
    paymentRequestStatus,
    paymentRequestStatusWhenChanged: (flowId: string, waitMs: number) =>
      gateway.readWhenChanged<V2PaymentRequestStatus>(flowId, (handle) => handle.query(v2PaymentRequestStatusQuery), waitMs, isTerminalV2PaymentRequestState),

    /** Payment Authorize API (seed 002): answers with the outcome, or with the step-up's payment request. */
    async startAuthorization(idempotencyKey: string, body: StartV2AuthorizationRequest): Promise<StartOutcome<V2AuthorizeStatus>> {
      const flowId = `${v2AuthorizeFlowIdPrefix}${idempotencyKey}`;
      const context = declineContext('v2_authorize', body);
      const existing = await gateway.stored(flowId);
      if (!existing) await refuseDeclinedContext('v2_authorize', context);
      const input: V2AuthorizeInput = {
        flow_id: flowId,
        flow_type: 'v2_authorize',
        merchant_reference: body.merchant_reference,
        currency: body.currency,
        ...(body.request_payment_transaction ? { payment: body.request_payment_transaction } : {}),
        ...(body.request_customer_token
          ? {
              token: {
                scopes: scopesOf(body.request_customer_token),
                ...(body.request_customer_token.customer_token_reference ? { customer_token_reference: body.request_customer_token.customer_token_reference } : {}),
              },
            }
          : {}),
        ...(body.supplementary_purchase_data ? { supplementary_purchase_data: body.supplementary_purchase_data } : {}),
        ...(body.interoperability_token ? { interoperability_token: body.interoperability_token } : {}),
        ...(body.step_up ? { step_up: body.step_up } : {}),
        step_up_allowed: true,
        retry_deadline_ms: DEFAULT_V2_RETRY_DEADLINE_MS,
        fallback_read_after_ms: fallbackReadAfterMs,
        decline_context: context,
      };
      return startAuthorizeFlow(flowId, idempotencyKey, body, input, gateway.deadlines.startMs);
    },

    /**
     * v2 token charge: the authorize call with Klarna-Customer-Token. The charge id is the
     * idempotency key at Klarna (at most one transaction per id). Refused before anything starts:
     * an unknown token (404), a token whose scopes do not allow a charge without the shopper
     * (409 token_scope_mismatch), the context of a declined charge (409 declined_before).
     */
    async startCharge(idempotencyKey: string, body: StartV2ChargeRequest, waitMs: number): Promise<StartOutcome<V2AuthorizeStatus>> {
      const flowId = `${v2ChargeFlowIdPrefix}${idempotencyKey}`;
      const token = await storage().findToken(body.token_ref);
      if (!token) throw new ApiError(404, 'token_not_found', `No vaulted v2 token ${body.token_ref}.`, [{ field: 'body.token_ref', message: 'names no v2 token of this merchant' }]);
      if (!body.customer_present && !token.scopes.includes('payment:customer_not_present')) {
        throw new ApiError(
          409,
          'token_scope_mismatch',
          `Token ${body.token_ref} has the scopes ${token.scopes.join(', ')}: a charge without the shopper (customer_present: false) needs payment:customer_not_present.`,
        );
      }
      const context = declineContext('v2_charge', body);
      const existing = await gateway.stored(flowId);
      if (!existing) await refuseDeclinedContext('v2_charge', context);
      const input: V2AuthorizeInput = {
        flow_id: flowId,
        flow_type: 'v2_charge',
        merchant_reference: body.merchant_reference,
        currency: body.currency,
        payment: { amount: body.amount, ...(body.payment_transaction_reference ? { payment_transaction_reference: body.payment_transaction_reference } : {}) },
        charge: { token_ref: body.token_ref, customer_present: body.customer_present },
        ...(body.supplementary_purchase_data ? { supplementary_purchase_data: body.supplementary_purchase_data } : {}),
        ...(body.interoperability_token ? { interoperability_token: body.interoperability_token } : {}),
        ...(body.step_up ? { step_up: body.step_up } : {}),
        // Seed 002: customer-present tokens may step up; a charge without the shopper cannot.
        step_up_allowed: body.customer_present,
        retry_deadline_ms: body.retry_deadline ?? DEFAULT_V2_RETRY_DEADLINE_MS,
        fallback_read_after_ms: fallbackReadAfterMs,
        decline_context: context,
      };
      return startAuthorizeFlow(flowId, idempotencyKey, body, input, waitMs);
    },

    /** Payment Request API with tokenization (seed 003): answers once the payment request exists. */
    async startPaymentRequest(idempotencyKey: string, body: StartV2PaymentRequestRequest): Promise<StartOutcome<V2PaymentRequestStatus>> {
      const flowId = `${v2PaymentRequestFlowIdPrefix}${idempotencyKey}`;
      const input: V2PaymentRequestInput = {
        flow_id: flowId,
        merchant_reference: body.merchant_reference,
        currency: body.currency,
        ...(body.amount !== undefined ? { amount: body.amount } : {}),
        token: {
          scopes: scopesOf(body.request_customer_token),
          ...(body.request_customer_token.customer_token_reference ? { customer_token_reference: body.request_customer_token.customer_token_reference } : {}),
        },
        ...(body.payment_option_id ? { payment_option_id: body.payment_option_id } : {}),
        ...(body.supplementary_purchase_data ? { supplementary_purchase_data: body.supplementary_purchase_data } : {}),
        ...(body.customer_interaction ? { customer_interaction: body.customer_interaction } : {}),
        fallback_read_after_ms: fallbackReadAfterMs,
      };
      return gateway.startWithUpdate<V2PaymentRequestStatus>({
        workflowType: 'v2PaymentRequestWorkflow',
        flowId,
        idempotencyKey,
        taskQueue: options.taskQueue,
        body,
        input: (start) => ({ ...input, request_fingerprint: start.fingerprint, start_request_id: start.requestId }),
        update: v2PaymentRequestCreatedUpdate,
        waitMs: gateway.deadlines.startMs,
        read: paymentRequestStatus,
        starting: () => {
          const now = new Date().toISOString();
          return {
            flow_id: flowId,
            flow_type: 'v2_payment_request',
            state: 'CREATING_REQUEST',
            merchant_reference: body.merchant_reference,
            currency: body.currency,
            ...(body.amount !== undefined ? { amount: body.amount } : {}),
            next_action: 'wait',
            ignored_events: 0,
            started_at: now,
            updated_at: now,
          };
        },
        settled: (current) => current.state !== 'CREATING_REQUEST',
      });
    },

    /** The network session token for the acquiring partner, while it is valid (seed 003's hand-off). */
    async handOff(flowId: string) {
      const status = await paymentRequestStatus(flowId);
      if (!status) throw new ApiError(404, 'not_found', `No v2 payment request flow ${flowId}.`);
      if (status.state !== 'COMPLETED' || !status.payment_request) {
        throw new ApiError(409, 'not_completed', `Flow ${flowId} is ${status.state}: only a completed payment request has a network session token.`);
      }
      const session = await storage().findNetworkSession(flowId);
      if (!session) throw new ApiError(409, 'not_completed', `Flow ${flowId} has no network session token.`);
      if (session.expires_at.getTime() <= Date.now()) {
        throw new ApiError(409, 'network_session_token_expired', `The network session token of ${flowId} expired at ${session.expires_at.toISOString()} (valid 1 hour).`);
      }
      return {
        flow_id: flowId,
        payment_request_id: session.payment_request_id,
        klarna_network_session_token: options.vault.open(session.token),
        expires_at: session.expires_at.toISOString(),
        ...(status.customer_token ? { customer_token: status.customer_token } : {}),
      };
    },
  };
}
export type V2Flows = ReturnType<typeof v2Flows>;
