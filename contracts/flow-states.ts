// Each flow's state names, which of them are final, and the flow id prefixes, as plain data. The
// workflows need these at run time, and the workflow sandbox evaluates every module a workflow
// imports again for each workflow run: this module imports nothing (no zod, whose schemas are
// costly to build; see docs/performance.md, "The workflow bundle"). The zod contracts build their
// enums from these lists, so each list is still defined once.

export const tokenizeStates = [
  'CREATING_SESSION',
  'AWAITING_AUTHORIZATION',
  'CREATING_TOKEN',
  'COMPLETED',
  'ABANDONED',
  'EXPIRED',
  'FAILED',
  'CANCELLED',
] as const;
type TokenizeStateName = (typeof tokenizeStates)[number];
export const terminalTokenizeStates: readonly TokenizeStateName[] = ['COMPLETED', 'ABANDONED', 'EXPIRED', 'FAILED', 'CANCELLED'];
export const isTerminalTokenizeState = (s: TokenizeStateName) => terminalTokenizeStates.includes(s);

export const chargeStates = ['PLACING_ORDER', 'COMPLETED', 'FAILED'] as const;
export const isTerminalChargeState = (state: (typeof chargeStates)[number]) => state === 'COMPLETED' || state === 'FAILED';

export const buyAndTokenizeStates = [
  'CREATING_SESSION',
  'AWAITING_AUTHORIZATION',
  'CREATING_TOKEN',
  'PLACING_ORDER',
  /** The order failed after the token was made: the saga cancels the token, then ends FAILED or EXPIRED. */
  'CANCELLING_TOKEN',
  'COMPLETED',
  /** The order is placed; Klarna refused the token and the request allowed that (`require_token: false`). */
  'COMPLETED_WITHOUT_TOKEN',
  'ABANDONED',
  'EXPIRED',
  'FAILED',
  'CANCELLED',
] as const;
type BuyAndTokenizeStateName = (typeof buyAndTokenizeStates)[number];
export const terminalBuyAndTokenizeStates: readonly BuyAndTokenizeStateName[] = [
  'COMPLETED',
  'COMPLETED_WITHOUT_TOKEN',
  'ABANDONED',
  'EXPIRED',
  'FAILED',
  'CANCELLED',
];
export const isTerminalBuyAndTokenizeState = (s: BuyAndTokenizeStateName) => terminalBuyAndTokenizeStates.includes(s);

export const stepUpStates = ['CREATING_SESSION', 'AWAITING_SHOPPER', 'PLACING_ORDER', 'COMPLETED', 'DECLINED', 'CANCELLED', 'ABANDONED', 'EXPIRED', 'FAILED'] as const;
type StepUpStateName = (typeof stepUpStates)[number];
export const terminalStepUpStates: readonly StepUpStateName[] = ['COMPLETED', 'DECLINED', 'CANCELLED', 'ABANDONED', 'EXPIRED', 'FAILED'];
export const isTerminalStepUpState = (state: StepUpStateName) => terminalStepUpStates.includes(state);

/** Klarna's HPP session statuses (klarna-api-facts §3). FAILED, BACK and ERROR allow another attempt. */
export const hppStatuses = ['WAITING', 'IN_PROGRESS', 'COMPLETED', 'FAILED', 'CANCELLED', 'BACK', 'ERROR', 'DISABLED'] as const;
export const retryableHppStatuses: readonly (typeof hppStatuses)[number][] = ['FAILED', 'BACK', 'ERROR'];

export const v2AuthorizeStates = [
  'AUTHORIZING',
  'AWAITING_SHOPPER',
  'FINALIZING',
  'COMPLETED',
  'PARTIALLY_COMPLETED',
  'DECLINED',
  'EXPIRED',
  'CANCELLED',
  'FAILED',
] as const;
type V2AuthorizeStateName = (typeof v2AuthorizeStates)[number];
export const terminalV2AuthorizeStates: readonly V2AuthorizeStateName[] = ['COMPLETED', 'PARTIALLY_COMPLETED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED'];
export const isTerminalV2AuthorizeState = (s: V2AuthorizeStateName) => terminalV2AuthorizeStates.includes(s);

export const v2PaymentRequestStates = ['CREATING_REQUEST', 'AWAITING_SHOPPER', 'COMPLETED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED'] as const;
type V2PaymentRequestStateName = (typeof v2PaymentRequestStates)[number];
export const terminalV2PaymentRequestStates: readonly V2PaymentRequestStateName[] = ['COMPLETED', 'DECLINED', 'EXPIRED', 'CANCELLED', 'FAILED'];
export const isTerminalV2PaymentRequestState = (s: V2PaymentRequestStateName) => terminalV2PaymentRequestStates.includes(s);

export const chargeFlowIdPrefix = 'charge-';
export const subscriptionIdPrefix = 'sub-';
/** Token maintenance workflows (refresh, cancel) are named after the token reference. */
export const tokenMaintenanceIdPrefix = { refresh: 'token-refresh-', cancel: 'token-cancel-' } as const;
