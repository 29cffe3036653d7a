import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { buyAndTokenizeFlowIdPrefix } from '../contracts/buy-and-tokenize.js';
import type { HppSessionView, PlaceOrderMode, StepUpInput, StepUpOrder } from '../contracts/step-up.js';
import { callbackSecretFor } from '../klarna/callback-auth.js';
import type { KlarnaClient } from '../klarna/client.js';
import type { CustomerTokensRepository } from '../persistence/customer-tokens-repository.js';
import type { TokenVault } from '../persistence/token-vault.js';
import { TOKEN_REF_UNKNOWN } from './charge-activities.js';
import { asTemporalFailure } from './klarna-failures.js';

export interface StepUpActivityDeps {
  klarna: KlarnaClient;
  vault: TokenVault;
  customerTokens: CustomerTokensRepository;
  callbacks: { publicBaseUrl: string; secret: string };
  now?: () => Date;
}

/** The per-flow secret of a step-up flow's HPP status_update URL (another purpose than its authorization callback's). */
export const hppStatusCallbackKey = (flowId: string) => `${flowId}/hpp-status`;

const defaultLocales: Record<string, string> = { SE: 'sv-SE', NO: 'nb-NO', FI: 'fi-FI', DK: 'da-DK', DE: 'de-DE', AT: 'de-AT', NL: 'nl-NL', GB: 'en-GB', US: 'en-US' };
const localeFor = (country: string, locale?: string) => locale ?? defaultLocales[country] ?? `en-${country}`;

export interface CreateStepUpSessionInput {
  flow_id: string;
  token_ref: string;
  step_up_id: string;
  order: StepUpInput['order'];
  idempotency_key: string;
  /** SDK path: Klarna's authorization callback comes back to this flow (merchant_urls.authorization). */
  authorization_callback: boolean;
}

export function createStepUpActivities(deps: StepUpActivityDeps) {
  const now = deps.now ?? (() => new Date());
  const storedToken = async (tokenRef: string) => {
    const doc = await deps.customerTokens.findByRef(tokenRef);
    if (!doc) throw ApplicationFailure.create({ type: TOKEN_REF_UNKNOWN, message: `no vaulted token ${tokenRef}`, nonRetryable: true });
    return doc;
  };
  const callbackUrl = (path: string, flowId: string, secretKey: string, extra: Record<string, string> = {}) => {
    const url = new URL(`${deps.callbacks.publicBaseUrl}/klarna/callbacks/${path}/${encodeURIComponent(flowId)}`);
    url.searchParams.set('secret', callbackSecretFor(deps.callbacks.secret, secretKey));
    // Klarna fills `{{session_id}}`; URLSearchParams would encode the braces.
    const tail = Object.entries(extra).map(([k, v]) => `&${k}=${v}`).join('');
    return `${url.toString()}${tail}`;
  };

  return {
    /**
     * The recovery session (seed 000): the failed charge's order with the token's original intent,
     * the `step_up_id` and `customer.customer_token`. The token is opened from the vault here and
     * never leaves the activity (nor enters workflow history).
     */
    async createStepUpSession(input: CreateStepUpSessionInput): Promise<{ session_id: string; client_token: string }> {
      const doc = await storedToken(input.token_ref);
      const intent = doc.flow_id.startsWith(buyAndTokenizeFlowIdPrefix) ? 'buy_and_tokenize' : 'tokenize';
      const { order } = input;
      const { body } = await asTemporalFailure(() =>
        deps.klarna.createSession(
          {
            intent,
            purchase_country: doc.purchase_country,
            purchase_currency: order.purchase_currency,
            locale: localeFor(doc.purchase_country, order.locale),
            order_amount: order.order_amount,
            order_tax_amount: order.order_tax_amount,
            order_lines: order.order_lines,
            merchant_reference1: order.merchant_reference1,
            ...(order.merchant_reference2 ? { merchant_reference2: order.merchant_reference2 } : {}),
            ...(input.authorization_callback ? { merchant_urls: { authorization: callbackUrl('authorization', input.flow_id, input.flow_id) } } : {}),
            customer: { customer_token: deps.vault.open(doc.token) },
            step_up_id: input.step_up_id,
          },
          input.idempotency_key,
        ),
      );
      Context.current().log.info('step-up session created', { flowId: input.flow_id, tokenRef: input.token_ref, sessionId: body.session_id });
      return { session_id: body.session_id, client_token: body.client_token };
    },

    /** The Hosted Payment Page for the recovery session; its status_update comes back to this flow. */
    async createStepUpHppSession(input: {
      flow_id: string;
      session_id: string;
      place_order_mode: PlaceOrderMode;
      merchant_urls: NonNullable<StepUpInput['hpp']>['merchant_urls'];
      idempotency_key: string;
    }): Promise<{ session_id: string; redirect_url: string; expires_at?: string }> {
      const statusUpdate = callbackUrl('hpp-status', input.flow_id, hppStatusCallbackKey(input.flow_id), { hpp_session_id: '{{session_id}}' });
      const merchantUrls = Object.fromEntries(Object.entries(input.merchant_urls).filter(([, v]) => v !== undefined)) as Record<string, string>;
      const { body } = await asTemporalFailure(() =>
        deps.klarna.createHppSession(
          input.session_id,
          { merchant_urls: { ...merchantUrls, status_update: statusUpdate }, options: { place_order_mode: input.place_order_mode } },
          input.idempotency_key,
        ),
      );
      return { session_id: body.session_id, redirect_url: body.redirect_url, ...(body.expires_at ? { expires_at: body.expires_at } : {}) };
    },

    /** The HPP session as Klarna shows it now (the fallback when a status_update is late or lost). */
    async readStepUpHppSession(input: { hpp_session_id: string }): Promise<HppSessionView> {
      const { body } = await asTemporalFailure(() => deps.klarna.readHppSession(input.hpp_session_id));
      return body;
    },

    /** Disables the HPP session when the recovery gives up (best effort; a final session is left as it is). */
    async disableStepUpHppSession(input: { hpp_session_id: string }): Promise<void> {
      await asTemporalFailure(() => deps.klarna.disableHppSession(input.hpp_session_id));
    },

    /** The failed charge's order, from the recovery authorization, with the workflow's idempotency key. */
    async placeStepUpOrder(input: { flow_id: string; token_ref: string; authorization_token: string; order: StepUpInput['order']; idempotency_key: string }): Promise<StepUpOrder> {
      const doc = await storedToken(input.token_ref);
      const { order } = input;
      const { body } = await asTemporalFailure(() =>
        deps.klarna.createOrder(
          input.authorization_token,
          {
            purchase_country: doc.purchase_country,
            purchase_currency: order.purchase_currency,
            locale: localeFor(doc.purchase_country, order.locale),
            order_amount: order.order_amount,
            order_tax_amount: order.order_tax_amount,
            order_lines: order.order_lines,
            merchant_reference1: order.merchant_reference1,
            ...(order.merchant_reference2 ? { merchant_reference2: order.merchant_reference2 } : {}),
            ...(order.auto_capture !== undefined ? { auto_capture: order.auto_capture } : {}),
          },
          input.idempotency_key,
        ),
      );
      Context.current().log.info('step-up order placed', { flowId: input.flow_id, orderId: body.order_id });
      return { order_id: body.order_id, placed_by: 'merchant', fraud_status: body.fraud_status };
    },

    /** Records on the stored token that its payment method changed (ACTIVE again). */
    async recordPaymentMethodChanged(input: { token_ref: string }): Promise<void> {
      await deps.customerTokens.markPaymentMethodChanged(input.token_ref, now());
    },
  };
}
