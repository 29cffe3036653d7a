import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { V2PaymentRequestEvent, V2PaymentRequestView } from '../contracts/v2.js';
import type { KlarnaV2Client } from '../klarna/v2-client.js';
import type { TokenScope, V2AuthorizeRequest, V2CreatePaymentRequest, V2PaymentRequest, V2Result } from '../klarna/v2-schemas.js';
import type { KlarnaEventsRepository } from '../persistence/klarna-events-repository.js';
import { maskToken, type Sealed, type TokenVault } from '../persistence/token-vault.js';
import type { V2Repository } from '../persistence/v2-repository.js';
import { asTemporalFailure } from './klarna-failures.js';

export interface V2ActivityDeps {
  /** Klarna v2 and its storage; absent in setups without v2 (its activities then fail as not configured). */
  v2?: { klarna: KlarnaV2Client; repository: V2Repository };
  events: KlarnaEventsRepository;
  vault: TokenVault;
  now?: () => Date;
}

/** Failure types of the v2 activities (besides Klarna's kinds, klarna/errors.ts). */
export const V2_NOT_CONFIGURED = 'v2_not_configured';
export const V2_TOKEN_REF_UNKNOWN = 'token_ref_unknown';
export const V2_TOKEN_SCOPE_MISMATCH = 'token_scope_mismatch';

/** A customer token as it travels through workflow history: sealed, named by its token_ref. */
export interface VaultedV2Token {
  token_ref: string;
  masked: string;
  last4: string;
  sealed: Sealed;
}

export interface V2AuthorizeOutcome {
  payment?: { result: V2Result; result_reason?: string; payment_transaction_id?: string; payment_transaction_reference?: string };
  token?: { result: V2Result; token?: VaultedV2Token };
  payment_request?: V2PaymentRequestView;
  correlation_id?: string;
}

/** What a completed payment request gives: the network session token and the customer token, both sealed. */
export interface V2Completion {
  source: 'webhook' | 'read';
  completed_at: string;
  network_session_token?: Sealed;
  customer_token?: VaultedV2Token;
  customer_token_reference?: string;
}

export interface V2PaymentRequestSnapshot extends V2PaymentRequestView {
  state_reason?: string;
  /** Set when the state is COMPLETED. */
  completion?: V2Completion;
}

export function createV2Activities(deps: V2ActivityDeps) {
  const now = deps.now ?? (() => new Date());
  const v2 = () => {
    if (!deps.v2) throw ApplicationFailure.create({ type: V2_NOT_CONFIGURED, message: 'Klarna v2 is not configured for this worker', nonRetryable: true });
    return deps.v2;
  };
  const vaulted = (token: string): VaultedV2Token => ({
    token_ref: deps.vault.reference(token),
    masked: maskToken(token),
    last4: token.slice(-4),
    sealed: deps.vault.seal(token),
  });
  const view = (pr: V2PaymentRequest): V2PaymentRequestView => ({
    payment_request_id: pr.payment_request_id,
    state: pr.state,
    ...(pr.state_context?.customer_interaction?.payment_request_url ? { payment_request_url: pr.state_context.customer_interaction.payment_request_url } : {}),
    ...(pr.expires_at ? { expires_at: pr.expires_at } : {}),
  });

  return {
    /**
     * One Payment Authorize call (seed 002): a first authorization, the finalization after a
     * step-up (with the sealed network session token), or a token charge (the vaulted token,
     * opened here, as Klarna-Customer-Token). The idempotency key comes from the workflow. A
     * customer token Klarna approves leaves this activity sealed, never in the clear.
     */
    async authorizeV2(input: {
      flow_id: string;
      request: V2AuthorizeRequest;
      idempotency_key: string;
      interoperability_token?: string;
      network_session_token?: Sealed;
      charge?: { token_ref: string; customer_present: boolean };
    }): Promise<V2AuthorizeOutcome> {
      const { klarna, repository } = v2();
      let customerToken: string | undefined;
      if (input.charge) {
        const doc = await repository.findToken(input.charge.token_ref);
        if (!doc) throw ApplicationFailure.create({ type: V2_TOKEN_REF_UNKNOWN, message: `no vaulted v2 token ${input.charge.token_ref}`, nonRetryable: true });
        // Seed 002: without the shopper only a customer_not_present token may be charged.
        if (!input.charge.customer_present && !doc.scopes.includes('payment:customer_not_present')) {
          throw ApplicationFailure.create({
            type: V2_TOKEN_SCOPE_MISMATCH,
            message: `token ${input.charge.token_ref} has scopes ${doc.scopes.join(', ')}; a charge without the shopper needs payment:customer_not_present`,
            nonRetryable: true,
          });
        }
        customerToken = deps.vault.open(doc.token);
      }
      const { body, correlationId } = await asTemporalFailure(() =>
        klarna.authorize(input.request, {
          idempotencyKey: input.idempotency_key,
          ...(input.interoperability_token ? { interoperabilityToken: input.interoperability_token } : {}),
          ...(input.network_session_token ? { networkSessionToken: deps.vault.open(input.network_session_token) } : {}),
          ...(customerToken ? { customerToken } : {}),
        }),
      );
      const payment = body.payment_transaction_response;
      const token = body.customer_token_response;
      Context.current().log.info('v2 authorize answered', {
        flowId: input.flow_id,
        payment: payment?.result,
        token: token?.result,
        paymentRequestId: body.payment_request?.payment_request_id,
        correlationId,
      });
      return {
        ...(payment
          ? {
              payment: {
                result: payment.result,
                ...(payment.result_reason ? { result_reason: payment.result_reason } : {}),
                ...(payment.payment_transaction ? { payment_transaction_id: payment.payment_transaction.payment_transaction_id } : {}),
                ...(payment.payment_transaction?.payment_transaction_reference
                  ? { payment_transaction_reference: payment.payment_transaction.payment_transaction_reference }
                  : {}),
              },
            }
          : {}),
        // A charge's answer names the charged token again: nothing new to keep.
        ...(token && !input.charge ? { token: { result: token.result, ...(token.customer_token ? { token: vaulted(token.customer_token) } : {}) } } : {}),
        ...(body.payment_request ? { payment_request: view(body.payment_request) } : {}),
        ...(correlationId ? { correlation_id: correlationId } : {}),
      };
    },

    /** POST /v2/payment/requests with tokenization (seed 003), with the workflow's idempotency key. */
    async createV2PaymentRequest(input: { flow_id: string; request: V2CreatePaymentRequest; idempotency_key: string }): Promise<V2PaymentRequestView> {
      const { body } = await asTemporalFailure(() => v2().klarna.createPaymentRequest(input.request, input.idempotency_key));
      Context.current().log.info('v2 payment request created', { flowId: input.flow_id, paymentRequestId: body.payment_request_id });
      return view(body);
    },

    /** Reads the payment request (the fallback when no webhook comes); a completed one's tokens come back sealed. */
    async readV2PaymentRequest(input: { flow_id: string; payment_request_id: string }): Promise<V2PaymentRequestSnapshot> {
      const { body } = await asTemporalFailure(() => v2().klarna.readPaymentRequest(input.payment_request_id));
      const snapshot: V2PaymentRequestSnapshot = { ...view(body), ...(body.state_reason ? { state_reason: body.state_reason } : {}) };
      if (body.state === 'COMPLETED') {
        const context = body.state_context ?? {};
        snapshot.completion = {
          source: 'read',
          completed_at: body.updated_at ?? now().toISOString(),
          ...(context.klarna_network_session_token ? { network_session_token: deps.vault.seal(context.klarna_network_session_token) } : {}),
          ...(context.klarna_customer?.customer_token ? { customer_token: vaulted(context.klarna_customer.customer_token) } : {}),
          ...(context.klarna_customer?.customer_token_reference ? { customer_token_reference: context.klarna_customer.customer_token_reference } : {}),
        };
      }
      return snapshot;
    },

    /** The tokens a stored (signed) completed-webhook carried, still sealed; undefined when it carried none. */
    async v2WebhookCompletion(input: { flow_id: string; event_id: string }): Promise<V2Completion | undefined> {
      const event = await deps.events.find(input.event_id);
      if (!event || event.source !== 'v2_webhook') return undefined;
      const payload = event.payload as { network_session_token?: Sealed; customer_token?: Sealed; customer_token_reference?: string; occurred_at?: string };
      if (!payload.network_session_token && !payload.customer_token) return undefined;
      const customerToken = payload.customer_token ? deps.vault.open(payload.customer_token) : undefined;
      return {
        source: 'webhook',
        completed_at: payload.occurred_at ?? event.received_at.toISOString(),
        ...(payload.network_session_token ? { network_session_token: payload.network_session_token } : {}),
        ...(customerToken ? { customer_token: vaulted(customerToken) } : {}),
        ...(payload.customer_token_reference ? { customer_token_reference: payload.customer_token_reference } : {}),
      };
    },

    /** Webhook events of this payment request that are stored but not known to be in the flow (signal lost, or the flow was not known yet). */
    async collectV2PaymentRequestEvents(input: { flow_id: string; payment_request_id: string }): Promise<V2PaymentRequestEvent[]> {
      const pending = await deps.events.pendingForPaymentRequest(input.payment_request_id);
      return pending.map((event) => ({
        event_id: event._id,
        payment_request_id: input.payment_request_id,
        state: String(event.payload.state ?? ''),
        ...(typeof event.payload.occurred_at === 'string' ? { occurred_at: event.payload.occurred_at } : {}),
      }));
    },

    /** Vaults a v2 customer token with its scopes (insert once per token_ref). */
    async storeV2CustomerToken(input: {
      flow_id: string;
      merchant_reference: string;
      token: VaultedV2Token;
      scopes: TokenScope[];
      customer_token_reference?: string;
      payment_request_id?: string;
    }): Promise<void> {
      await v2().repository.saveToken({
        _id: input.token.token_ref,
        flow_id: input.flow_id,
        merchant_reference: input.merchant_reference,
        token: input.token.sealed,
        token_last4: input.token.last4,
        scopes: input.scopes,
        ...(input.customer_token_reference ? { customer_token_reference: input.customer_token_reference } : {}),
        ...(input.payment_request_id ? { payment_request_id: input.payment_request_id } : {}),
        created_at: now(),
      });
    },

    /** Keeps the network session token (sealed) for the hand-off to the acquiring partner, until its hour ends. */
    async storeV2NetworkSession(input: { flow_id: string; payment_request_id: string; token: Sealed; expires_at: string }): Promise<void> {
      await v2().repository.saveNetworkSession({
        _id: input.flow_id,
        payment_request_id: input.payment_request_id,
        token: input.token,
        expires_at: new Date(input.expires_at),
        created_at: now(),
      });
    },
  };
}
