import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Custom search attributes every flow sets, so operators can find a run in the Temporal UI by
// merchant reference, flow type or state. Registered by the dev stack (`--search-attribute`);
// on a cluster, register them once with `temporal operator search-attribute create` (see README).
export const MerchantReference = defineSearchAttributeKey('MerchantReference', SearchAttributeType.KEYWORD);
export const FlowType = defineSearchAttributeKey('FlowType', SearchAttributeType.KEYWORD);
export const FlowState = defineSearchAttributeKey('FlowState', SearchAttributeType.KEYWORD);

/** The subscription a run belongs to: set on the subscription workflow and on each renewal charge. */
export const SubscriptionId = defineSearchAttributeKey('SubscriptionId', SearchAttributeType.KEYWORD);

export const customSearchAttributes = [MerchantReference, FlowType, FlowState, SubscriptionId] as const;
