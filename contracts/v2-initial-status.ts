import type { V2AuthorizeInput, V2AuthorizeStatus } from './v2.js';

/**
 * A v2 authorize flow's status before Klarna answered: the workflow starts from it, and the API
 * answers it while the flow has stored nothing yet. A plain module (types only from the zod
 * contract), so the workflow bundle stays without zod (test/unit/workflow-bundle.test.ts).
 */
export function initialV2AuthorizeStatus(input: V2AuthorizeInput, at: string): V2AuthorizeStatus {
  return {
    flow_id: input.flow_id,
    flow_type: input.flow_type,
    state: 'AUTHORIZING',
    merchant_reference: input.merchant_reference,
    currency: input.currency,
    next_action: 'wait',
    ...(input.payment ? { payment: { result: 'PENDING' as const, amount: input.payment.amount } } : {}),
    ...(input.token ? { customer_token: { result: 'PENDING' as const, scopes: input.token.scopes } } : {}),
    ...(input.charge ? { token_ref: input.charge.token_ref, customer_present: input.charge.customer_present } : {}),
    step_ups: 0,
    ignored_events: 0,
    started_at: at,
    updated_at: at,
  };
}
