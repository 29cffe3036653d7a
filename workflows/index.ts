// The workflow bundle's entry point: every workflow type the worker runs.
export { buyAndTokenizeWorkflow } from './buy-and-tokenize-workflow.js';
export { chargeWorkflow } from './charge-workflow.js';
export { merchantEventDeliveryWorkflow } from './merchant-event-delivery-workflow.js';
export { subscriptionWorkflow } from './subscription-workflow.js';
export { cancelTokenWorkflow, refreshTokenWorkflow } from './token-maintenance-workflows.js';
export { stepUpRecoveryWorkflow } from './step-up-workflow.js';
export { tokenizeWorkflow } from './tokenize-workflow.js';
export { v2AuthorizeWorkflow } from './v2-authorize-workflow.js';
export { v2PaymentRequestWorkflow } from './v2-payment-request-workflow.js';
