import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ChargeInput, PlacedOrder } from '../contracts/charge.js';
import type { KlarnaClient } from '../klarna/client.js';
import { KlarnaApiError, klarnaFailureType, type KlarnaErrorKind } from '../klarna/errors.js';
import type { TokenStatusView } from '../contracts/token.js';
import { tokenView, type CustomerTokenDocument, type CustomerTokensRepository, type CustomerTokenState } from '../persistence/customer-tokens-repository.js';
import type { TokenVault } from '../persistence/token-vault.js';
import { asTemporalFailure } from './klarna-failures.js';

export interface ChargeActivityDeps {
  klarna: KlarnaClient;
  vault: TokenVault;
  customerTokens: CustomerTokensRepository;
  now?: () => Date;
}

export interface PlaceTokenOrderInput {
  charge_id: string;
  token_ref: string;
  idempotency_key: string;
  customer_present: boolean;
  order: ChargeInput['order'];
}

/** Failure type when the token_ref names no vaulted token (deleted from our storage after the start). */
export const TOKEN_REF_UNKNOWN = 'token_ref_unknown';

// What a token order refusal says about the token itself, stored so later charges fail fast.
const tokenStateByKind: Partial<Record<KlarnaErrorKind, CustomerTokenState>> = {
  token_not_found: 'NOT_FOUND',
  token_suspended: 'SUSPENDED',
  token_cancelled: 'CANCELLED',
  token_forbidden: 'FORBIDDEN',
};
// And back: the kind a charge on a token known dead fails with, without asking Klarna.
export const kindByTokenState: Record<Exclude<CustomerTokenState, 'ACTIVE'>, KlarnaErrorKind> = {
  NOT_FOUND: 'token_not_found',
  SUSPENDED: 'token_suspended',
  CANCELLED: 'token_cancelled',
  FORBIDDEN: 'token_forbidden',
};

export function createChargeActivities(deps: ChargeActivityDeps) {
  const now = deps.now ?? (() => new Date());

  const storedToken = async (tokenRef: string): Promise<CustomerTokenDocument> => {
    const doc = await deps.customerTokens.findByRef(tokenRef);
    if (!doc) throw ApplicationFailure.create({ type: TOKEN_REF_UNKNOWN, message: `no vaulted token ${tokenRef}`, nonRetryable: true });
    return doc;
  };

  return {
    /** Reads the token's status at Klarna and records what it says (a suspension may be lifted). */
    async readTokenStatusAtKlarna(input: { token_ref: string }): Promise<TokenStatusView> {
      const doc = await storedToken(input.token_ref);
      try {
        const { body } = await deps.klarna.readCustomerToken(deps.vault.open(doc.token));
        await deps.customerTokens.markStatus(input.token_ref, body.status, 'refreshed', now());
        return tokenView((await deps.customerTokens.findByRef(input.token_ref)) ?? doc, body.payment_method_type);
      } catch (err) {
        const dead = err instanceof KlarnaApiError ? tokenStateByKind[err.kind] : undefined;
        if (!dead) return asTemporalFailure(() => Promise.reject(err));
        await deps.customerTokens.markStatus(input.token_ref, dead, (err as KlarnaApiError).kind, now());
        return tokenView((await deps.customerTokens.findByRef(input.token_ref)) ?? doc);
      }
    },

    /** Cancels the token at Klarna (idempotent: the workflow's key; an unknown token is as good as cancelled). */
    async cancelTokenAtKlarna(input: { token_ref: string; idempotency_key: string }): Promise<TokenStatusView> {
      const doc = await storedToken(input.token_ref);
      try {
        await deps.klarna.cancelCustomerToken(deps.vault.open(doc.token), input.idempotency_key);
        await deps.customerTokens.markStatus(input.token_ref, 'CANCELLED', 'cancelled_by_merchant', now());
      } catch (err) {
        const dead = err instanceof KlarnaApiError ? tokenStateByKind[err.kind] : undefined;
        if (!dead) return asTemporalFailure(() => Promise.reject(err));
        await deps.customerTokens.markStatus(input.token_ref, dead, (err as KlarnaApiError).kind, now());
      }
      Context.current().log.info('customer token cancelled', { tokenRef: input.token_ref });
      return tokenView((await deps.customerTokens.findByRef(input.token_ref)) ?? doc);
    },

    /**
     * Places the token order with the charge's idempotency key. The token is opened from the vault
     * here and never leaves the activity. A token known dead fails at once with its kind (no Klarna
     * call); a refusal that says the token is dead is recorded on the stored token first.
     */
    async placeTokenOrder(input: PlaceTokenOrderInput): Promise<PlacedOrder> {
      const stored = await deps.customerTokens.findByRef(input.token_ref);
      if (!stored) {
        throw ApplicationFailure.create({ type: TOKEN_REF_UNKNOWN, message: `no vaulted token ${input.token_ref}`, nonRetryable: true });
      }
      if (stored.status !== 'ACTIVE') {
        const kind = kindByTokenState[stored.status];
        throw ApplicationFailure.create({
          type: klarnaFailureType(kind),
          message: `the token is known to be ${stored.status} (${stored.status_reason ?? 'recorded earlier'}); no Klarna call made`,
          nonRetryable: true,
          details: [{ kind, fail_fast: true }],
        });
      }
      const token = deps.vault.open(stored.token);
      try {
        const { body, correlationId } = await deps.klarna.createTokenOrder(
          token,
          { ...input.order, step_up: input.customer_present ? 'SUPPORTED' : 'NOT_SUPPORTED' },
          input.idempotency_key,
        );
        Context.current().log.info('token order placed', { chargeId: input.charge_id, tokenRef: input.token_ref, orderId: body.order_id });
        return {
          order_id: body.order_id,
          fraud_status: body.fraud_status,
          ...(body.authorized_payment_method ? { authorized_payment_method: body.authorized_payment_method } : {}),
          ...(correlationId ? { klarna_correlation_id: correlationId } : {}),
        };
      } catch (err) {
        const dead = err instanceof KlarnaApiError ? tokenStateByKind[err.kind] : undefined;
        if (dead) await deps.customerTokens.markStatus(input.token_ref, dead, (err as KlarnaApiError).kind, now());
        return asTemporalFailure(() => Promise.reject(err));
      }
    },
  };
}
