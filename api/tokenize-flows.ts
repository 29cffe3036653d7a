import { createHash } from 'node:crypto';
import { WorkflowUpdateStage, type Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/common';
import { isTerminalTokenizeState, type TokenizeStatus } from '../contracts/flow-status.js';
import {
  tokenizeFlowId,
  tokenizeInputFromRequest,
  type ShopperAuthorization,
  type StartTokenizationRequest,
} from '../contracts/tokenize.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';
import { awaitCheckoutSessionUpdate, shopperAuthorizedSignal, tokenizeStatusQuery } from '../workflows/definitions.js';
import { ApiError } from './errors.js';

export interface TokenizeFlowsOptions {
  client: Client;
  taskQueue: string;
  flows: FlowsRepository;
  defaultAbandonmentMs: number;
  /** How long a start waits for Klarna's session before answering with the flow still starting. */
  sessionWaitMs?: number;
}

/** Stable digest of a start request, so a reused idempotency key with another body is refused. */
const fingerprint = (body: unknown) => createHash('sha256').update(canonicalJson(body)).digest('hex');
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Starting, signalling and reading tokenize flows on Temporal, for the HTTP routes. */
export function tokenizeFlows(options: TokenizeFlowsOptions) {
  const { client } = options;
  const sessionWaitMs = options.sessionWaitMs ?? 15_000;

  async function status(flowId: string): Promise<TokenizeStatus | undefined> {
    try {
      return await client.workflow.getHandle(flowId).query(tokenizeStatusQuery);
    } catch (err) {
      // Past Temporal's retention, or with no worker to answer the query, the durable copy in
      // MongoDB still answers (it may lag the live state by one step).
      const stored = (await options.flows.find(flowId))?.status;
      if (stored || err instanceof WorkflowNotFoundError) return stored;
      throw new ApiError(503, 'temporarily_unavailable', 'The flow cannot be read right now; retry shortly.');
    }
  }

  /** Waits (bounded) for the Klarna session; a closed or slow flow answers with its current status. */
  async function awaitSession(flowId: string): Promise<TokenizeStatus> {
    const handle = client.workflow.getHandle(flowId);
    try {
      const update = await handle.startUpdate(awaitCheckoutSessionUpdate, { waitForStage: WorkflowUpdateStage.ACCEPTED });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), sessionWaitMs)));
      const result = await Promise.race([update.result(), timeout]).finally(() => clearTimeout(timer));
      if (result) return result;
    } catch {
      // The update is refused once the workflow has closed; its query still works.
    }
    const current = await status(flowId);
    if (!current) throw new ApiError(404, 'not_found', `No flow ${flowId}.`);
    return current;
  }

  return {
    status,

    /** Idempotent start: the same key and body return the same flow; the same key with another body is a 409. */
    async start(idempotencyKey: string, body: StartTokenizationRequest): Promise<{ created: boolean; status: TokenizeStatus }> {
      const flowId = tokenizeFlowId(idempotencyKey);
      const requestFingerprint = fingerprint(body);
      let created = true;
      try {
        await client.workflow.start('tokenizeWorkflow', {
          taskQueue: options.taskQueue,
          workflowId: flowId,
          args: [tokenizeInputFromRequest(flowId, body, options.defaultAbandonmentMs)],
          memo: { request_fingerprint: requestFingerprint },
          // A finished flow keeps its id: the key cannot start a second tokenization.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        created = false;
        const description = await client.workflow.getHandle(flowId).describe();
        if (description.memo?.request_fingerprint !== requestFingerprint) {
          throw new ApiError(409, 'idempotency_conflict', `Idempotency key ${idempotencyKey} was already used with a different request.`);
        }
      }
      return { created, status: await awaitSession(flowId) };
    },

    /** Passes the shopper's authorization to the flow; the flow ignores duplicates itself. */
    async authorize(flowId: string, authorization: ShopperAuthorization): Promise<void> {
      // A flow stores its outcome before it shows it and before it closes: a terminal stored state
      // means the signal would only be counted as ignored, so refuse plainly. (Read from MongoDB,
      // not by query: a query waits its turn behind the workflow's tasks, a signal must not.)
      const stored = (await options.flows.find(flowId))?.status;
      if (stored && isTerminalTokenizeState(stored.state)) {
        throw new ApiError(409, 'flow_closed', `Flow ${flowId} has ended (${stored.state}); it takes no authorization.`);
      }
      try {
        await client.workflow.getHandle(flowId).signal(shopperAuthorizedSignal, authorization);
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        const current = await status(flowId);
        if (!current) throw new ApiError(404, 'not_found', `No flow ${flowId}.`);
        throw new ApiError(409, 'flow_closed', `Flow ${flowId} has ended (${current.state}); it takes no authorization.`);
      }
    },
  };
}
export type TokenizeFlows = ReturnType<typeof tokenizeFlows>;

