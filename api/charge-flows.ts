import { chargeFlowId, chargeInputFromRequest, isTerminalChargeState, type ChargeStatus, type StartChargeRequest } from '../contracts/charge.js';
import { marketIssues } from '../contracts/klarna-market-rules.js';
import type { CustomerTokensRepository } from '../persistence/customer-tokens-repository.js';
import { chargeOutcomeUpdate, chargeStatusQuery } from '../workflows/definitions.js';
import { ApiError } from './errors.js';
import type { FlowGateway, StartOutcome } from './flow-gateway.js';

export interface ChargeFlowsOptions {
  gateway: FlowGateway;
  taskQueue: string;
  customerTokens: CustomerTokensRepository;
}

export type ChargeStartOutcome = StartOutcome<ChargeStatus>;

/** Starting and reading token charges on Temporal, for the HTTP routes; every call bounded. */
export function chargeFlows(options: ChargeFlowsOptions) {
  const { gateway, customerTokens } = options;

  const status = (flowId: string) => gateway.read<ChargeStatus>(flowId, (handle) => handle.query(chargeStatusQuery));
  const statusWhenChanged = (flowId: string, waitMs: number) =>
    gateway.readWhenChanged<ChargeStatus>(flowId, (handle) => handle.query(chargeStatusQuery), waitMs, isTerminalChargeState);

  function startingStatus(flowId: string, body: StartChargeRequest): ChargeStatus {
    const now = new Date().toISOString();
    return {
      flow_id: flowId,
      flow_type: 'charge',
      state: 'PLACING_ORDER',
      merchant_reference: body.merchant_reference,
      token_ref: body.token_ref,
      order_amount: body.order_amount,
      purchase_currency: body.purchase_currency,
      customer_present: body.customer_present,
      started_at: now,
      updated_at: now,
    };
  }

  return {
    status,
    statusWhenChanged,

    /**
     * Idempotent charge in one round trip (update-with-start): answers with the outcome when it
     * settles within `waitMs`, else `accepted` with the charge as it stands. The same key and body
     * return the same charge; the same key with another body is a 409. Unknown tokens and market
     * mismatches are refused before anything starts.
     */
    async start(idempotencyKey: string, body: StartChargeRequest, waitMs: number): Promise<ChargeStartOutcome> {
      const token = await customerTokens.findByRef(body.token_ref);
      if (!token) {
        throw new ApiError(404, 'token_not_found', `No vaulted token ${body.token_ref}.`, [{ field: 'body.token_ref', message: 'names no token of this merchant' }]);
      }
      const market = marketIssues({ purchase_country: token.purchase_country, purchase_currency: body.purchase_currency });
      if (market.length > 0) {
        throw new ApiError(400, 'invalid_request', 'The request has invalid fields.', [
          { field: 'body.purchase_currency', message: `the token's market is ${token.purchase_country}: ${market.map((i) => i.message).join('; ')}` },
        ]);
      }

      const flowId = chargeFlowId(idempotencyKey);
      return gateway.startWithUpdate<ChargeStatus>({
        workflowType: 'chargeWorkflow',
        flowId,
        idempotencyKey,
        taskQueue: options.taskQueue,
        body,
        input: (start) => chargeInputFromRequest(flowId, body, start),
        update: chargeOutcomeUpdate,
        waitMs,
        read: status,
        starting: () => startingStatus(flowId, body),
        // The update answers the outcome: a charge that has one is the same charge again.
        settled: (current) => current.state !== 'PLACING_ORDER',
      });
    },
  };
}
export type ChargeFlows = ReturnType<typeof chargeFlows>;
