import { Context } from '@temporalio/activity';
import type { TokenizeStatus, VaultedTokenSummary } from '../contracts/flow-status.js';
import type { TokenizeInput } from '../contracts/tokenize.js';
import type { KlarnaClient } from '../klarna/client.js';
import type { Intent } from '../klarna/payments-schemas.js';
import type { CustomerTokensRepository } from '../persistence/customer-tokens-repository.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';
import { maskToken, type TokenVault } from '../persistence/token-vault.js';
import { asTemporalFailure } from './klarna-failures.js';

export interface TokenizeActivityDeps {
  klarna: KlarnaClient;
  vault: TokenVault;
  customerTokens: CustomerTokensRepository;
  flows: FlowsRepository;
  callbacks: { publicBaseUrl: string; secret: string };
  now?: () => Date;
}

export interface CreatePaymentSessionInput {
  flow_id: string;
  intent: Intent;
  session: TokenizeInput['session'];
}

export interface CreateAndVaultCustomerTokenInput {
  flow_id: string;
  merchant_reference: string;
  session_id: string;
  authorization_token: string;
  purchase_country: string;
  purchase_currency: string;
  locale: string;
  description: string;
  billing_address?: TokenizeInput['session']['billing_address'];
}

export function createTokenizeActivities(deps: TokenizeActivityDeps) {
  const now = deps.now ?? (() => new Date());

  return {
    /** Creates the Klarna Payments session; Klarna's authorization callback comes back to this flow. */
    async createPaymentSession(input: CreatePaymentSessionInput): Promise<{ session_id: string; client_token: string }> {
      // The secret rides in the URL because Klarna does not sign this callback (klarna-api-facts §1).
      const callback = new URL(`${deps.callbacks.publicBaseUrl}/klarna/callbacks/authorization/${encodeURIComponent(input.flow_id)}`);
      callback.searchParams.set('secret', deps.callbacks.secret);
      const { body } = await asTemporalFailure(() =>
        deps.klarna.createSession({ ...input.session, intent: input.intent, merchant_urls: { authorization: callback.toString() } }),
      );
      return { session_id: body.session_id, client_token: body.client_token };
    },

    /**
     * Creates the customer token and stores it encrypted, in one activity, so the token itself
     * never enters workflow history. A retry after the token was stored returns the stored one
     * instead of asking Klarna again.
     */
    async createAndVaultCustomerToken(input: CreateAndVaultCustomerTokenInput): Promise<VaultedTokenSummary> {
      const existing = await deps.customerTokens.findByFlowId(input.flow_id);
      if (existing) {
        return { token_ref: existing._id, masked: `…${existing.token_last4}`, payment_method_reference: existing.payment_method_reference };
      }
      const { body, correlationId } = await asTemporalFailure(() =>
        deps.klarna.createCustomerToken(input.authorization_token, {
          purchase_country: input.purchase_country,
          purchase_currency: input.purchase_currency,
          locale: input.locale,
          description: input.description,
          intended_use: 'SUBSCRIPTION',
          billing_address: input.billing_address,
        }),
      );
      const tokenRef = deps.vault.reference(body.token_id);
      const at = now();
      await deps.customerTokens.save({
        _id: tokenRef,
        flow_id: input.flow_id,
        merchant_reference: input.merchant_reference,
        session_id: input.session_id,
        token: deps.vault.seal(body.token_id),
        token_last4: body.token_id.slice(-4),
        status: 'ACTIVE',
        payment_method_reference: body.payment_method_reference,
        purchase_country: input.purchase_country,
        purchase_currency: input.purchase_currency,
        klarna_correlation_id: correlationId,
        created_at: at,
      });
      Context.current().log.info('customer token vaulted', { flowId: input.flow_id, tokenRef });
      return { token_ref: tokenRef, masked: maskToken(body.token_id), payment_method_reference: body.payment_method_reference };
    },

    /** Keeps a durable copy of the flow's state in MongoDB (outlives Temporal's retention). */
    async recordFlowState(status: TokenizeStatus): Promise<void> {
      await deps.flows.record(status, now());
    },
  };
}
