import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { VaultedTokenSummary } from '../contracts/flow-status.js';
import type { TokenizeInput } from '../contracts/tokenize.js';
import { callbackSecretFor } from '../klarna/callback-auth.js';
import type { KlarnaClient } from '../klarna/client.js';
import { klarnaFailureType } from '../klarna/errors.js';
import type { Intent } from '../klarna/payments-schemas.js';
import type { CustomerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { maskToken, type Sealed, type TokenVault } from '../persistence/token-vault.js';
import { asTemporalFailure } from './klarna-failures.js';

export interface TokenizeActivityDeps {
  klarna: KlarnaClient;
  vault: TokenVault;
  customerTokens: CustomerTokensRepository;
  callbacks: { publicBaseUrl: string; secret: string };
  now?: () => Date;
}

export interface CreatePaymentSessionInput {
  flow_id: string;
  intent: Intent;
  session: TokenizeInput['session'];
  /** Made by the workflow; absent only for executions of the frozen v1 workflow. */
  idempotency_key?: string;
}

export interface CreateCustomerTokenInput {
  flow_id: string;
  authorization_token: string;
  idempotency_key: string;
  purchase_country: string;
  purchase_currency: string;
  locale: string;
  description: string;
  billing_address?: TokenizeInput['session']['billing_address'];
}

/** Klarna's new token, sealed: the token itself never enters workflow history. */
export interface CreatedCustomerToken {
  token_ref: string;
  masked: string;
  sealed_token: Sealed;
  token_last4: string;
  payment_method_reference?: string;
  klarna_correlation_id?: string;
}

export interface VaultCustomerTokenInput {
  flow_id: string;
  merchant_reference: string;
  session_id: string;
  purchase_country: string;
  purchase_currency: string;
  created: CreatedCustomerToken;
}

/** Input of the frozen v1 workflow's one-step create-and-vault. */
export type CreateAndVaultCustomerTokenInput = Omit<CreateCustomerTokenInput, 'idempotency_key'> & {
  merchant_reference: string;
  session_id: string;
};

export function createTokenizeActivities(deps: TokenizeActivityDeps) {
  const now = deps.now ?? (() => new Date());

  const createCustomerToken = async (input: CreateCustomerTokenInput): Promise<CreatedCustomerToken> => {
    const { body, correlationId } = await asTemporalFailure(() =>
      deps.klarna.createCustomerToken(
        input.authorization_token,
        {
          purchase_country: input.purchase_country,
          purchase_currency: input.purchase_currency,
          locale: input.locale,
          description: input.description,
          intended_use: 'SUBSCRIPTION',
          billing_address: input.billing_address,
        },
        input.idempotency_key,
      ),
    );
    return {
      token_ref: deps.vault.reference(body.token_id),
      masked: maskToken(body.token_id),
      sealed_token: deps.vault.seal(body.token_id),
      token_last4: body.token_id.slice(-4),
      payment_method_reference: body.payment_method_reference,
      klarna_correlation_id: correlationId,
    };
  };

  const vaultCustomerToken = async (input: VaultCustomerTokenInput): Promise<VaultedTokenSummary> => {
    const { created } = input;
    await deps.customerTokens.save({
      _id: created.token_ref,
      flow_id: input.flow_id,
      merchant_reference: input.merchant_reference,
      session_id: input.session_id,
      token: created.sealed_token,
      token_last4: created.token_last4,
      status: 'ACTIVE',
      payment_method_reference: created.payment_method_reference,
      purchase_country: input.purchase_country,
      purchase_currency: input.purchase_currency,
      klarna_correlation_id: created.klarna_correlation_id,
      created_at: now(),
    });
    Context.current().log.info('customer token vaulted', { flowId: input.flow_id, tokenRef: created.token_ref });
    return { token_ref: created.token_ref, masked: created.masked, payment_method_reference: created.payment_method_reference };
  };

  return {
    /** Creates the Klarna Payments session; Klarna's authorization callback comes back to this flow. */
    async createPaymentSession(input: CreatePaymentSessionInput): Promise<{ session_id: string; client_token: string }> {
      // The secret rides in the URL because Klarna does not sign this callback (klarna-api-facts §1).
      const callback = new URL(`${deps.callbacks.publicBaseUrl}/klarna/callbacks/authorization/${encodeURIComponent(input.flow_id)}`);
      callback.searchParams.set('secret', callbackSecretFor(deps.callbacks.secret, input.flow_id));
      const { body } = await asTemporalFailure(() =>
        deps.klarna.createSession(
          { ...input.session, intent: input.intent, merchant_urls: { authorization: callback.toString() } },
          input.idempotency_key ?? `${input.flow_id}:create-session`,
        ),
      );
      return { session_id: body.session_id, client_token: body.client_token };
    },

    /**
     * Asks Klarna for the customer token with the workflow's idempotency key: a retry after a lost
     * reply or a killed worker gets the same token back, never a second one. Returns it sealed.
     */
    createCustomerToken,

    /** Stores the token encrypted; once per token (a retry changes nothing). */
    vaultCustomerToken,

    /** Releases authorizations a cancelled flow will not use (Klarna: DELETE the authorization). */
    async releaseAuthorizations(input: { flow_id: string; authorization_tokens: string[] }): Promise<void> {
      for (const token of input.authorization_tokens) {
        try {
          await asTemporalFailure(() => deps.klarna.releaseAuthorization(token));
        } catch (err) {
          // Already gone (used, expired or released): nothing left to release.
          if (!(err instanceof ApplicationFailure && err.type === klarnaFailureType('authorization_not_found'))) throw err;
        }
      }
      Context.current().log.info('authorizations released', { flowId: input.flow_id, count: input.authorization_tokens.length });
    },

    /** The frozen v1 workflow's step (create and store in one activity); kept for its executions. */
    async createAndVaultCustomerToken(input: CreateAndVaultCustomerTokenInput): Promise<VaultedTokenSummary> {
      const existing = await deps.customerTokens.findByFlowId(input.flow_id);
      if (existing) {
        return { token_ref: existing._id, masked: `…${existing.token_last4}`, payment_method_reference: existing.payment_method_reference };
      }
      const created = await createCustomerToken({ ...input, idempotency_key: `${input.flow_id}:customer-token` });
      return vaultCustomerToken({ ...input, created });
    },
  };
}
