import { createHash, randomUUID } from 'node:crypto';
import {
  isGrpcServiceError,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
// Default import: @temporalio/proto is CommonJS, so named imports fail under plain Node ESM.
import protos from '@temporalio/proto';
import { IDEMPOTENCY_CONFLICT, type CheckoutSessionRequest } from '../workflows/definitions.js';
import type { FlowStatusBase } from '../contracts/flow-status.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';
import { ApiError } from './errors.js';

/** How long each kind of API call may wait on Temporal before answering anyway. */
export interface FlowDeadlines {
  /** A start waits this long for the flow's first answer (Klarna's session), then answers 202. */
  startMs: number;
  /** A read waits this long for the live state (query), then answers from the stored copy. */
  readMs: number;
  /** A signal (authorization) gets this long; the inbox keeps it when Temporal cannot take it. */
  signalMs: number;
}
export const defaultFlowDeadlines: FlowDeadlines = { startMs: 10_000, readMs: 2_000, signalMs: 3_000 };

/** Temporal did not answer in time or is unreachable: the caller retries after a while. */
export const temporarilyUnavailable = (what: string) =>
  new ApiError(503, 'temporarily_unavailable', `${what} cannot be reached right now; retry shortly.`);

/** Stable digest of a request body, so a reused idempotency key with another body is refused. */
export const requestFingerprint = (body: unknown) => createHash('sha256').update(canonicalJson(body)).digest('hex');
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The same idempotency key came with another request body. */
export const idempotencyConflict = (key: string) =>
  new ApiError(409, 'idempotency_conflict', `Idempotency key ${key} was already used with a different request.`);

/** How an idempotent start ended within its deadline: a new flow, an existing one, or one still going. */
export type StartOutcome<S> = { outcome: 'created' | 'existing' | 'accepted'; status: S };

export interface StartWithUpdateSpec<S extends FlowStatusBase> {
  workflowType: string;
  flowId: string;
  idempotencyKey: string;
  taskQueue: string;
  /** The request body: its fingerprint goes into the input and the memo. */
  body: unknown;
  /** The workflow input, given the request's fingerprint and this call's id. */
  input: (start: { fingerprint: string; requestId: string }) => unknown;
  /** The update sent with the start; it answers `{status, created}` and refuses another fingerprint. */
  update: UpdateDefinition<{ status: S; created: boolean }, [CheckoutSessionRequest]>;
  waitMs: number;
  read: (flowId: string) => Promise<S | undefined>;
  /** The answer while the flow has stored nothing yet. */
  starting: () => S;
  /** A status that is the flow's answer already (e.g. a settled charge): then `existing`, not `accepted`. */
  settled?: (status: S) => boolean;
}

/** A gRPC failure that says "Temporal is not answering" (deadline, unavailable, cancelled). */
export function isTemporalUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const seen = new Set<unknown>();
  for (let e: unknown = err; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    // 1 CANCELLED, 4 DEADLINE_EXCEEDED, 14 UNAVAILABLE
    if (isGrpcServiceError(e) && [1, 4, 14].includes(e.code)) return true;
    if (/deadline|unavailable|ECONNREFUSED|timed? ?out/i.test(e.message)) return true;
  }
  return false;
}

/**
 * Bounded access to flows on Temporal, shared by every flow type's API facade: every call has a
 * deadline, and a read falls back to the stored copy in MongoDB when Temporal cannot answer.
 */
export function flowGateway(options: { client: Client; flows: FlowsRepository; deadlines?: Partial<FlowDeadlines> }) {
  const { client, flows } = options;
  const deadlines = { ...defaultFlowDeadlines, ...options.deadlines };
  const within = <T>(ms: number, fn: () => Promise<T>) => client.withDeadline(Date.now() + ms, fn);

  return {
    client,
    deadlines,
    within,

    /** The stored copy of a flow's status, if any. */
    async stored<S extends FlowStatusBase>(flowId: string): Promise<S | undefined> {
      return (await flows.find<S>(flowId))?.status ?? undefined;
    },

    /**
     * A flow's status: the live state by query within the read deadline, else the stored copy
     * (at most one step behind); undefined for an unknown flow; 503 when neither answers.
     */
    async read<S extends FlowStatusBase>(flowId: string, query: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<S>): Promise<S | undefined> {
      try {
        return await within(deadlines.readMs, () => query(client.workflow.getHandle(flowId)));
      } catch (err) {
        const stored = await this.stored<S>(flowId);
        if (stored || err instanceof WorkflowNotFoundError) return stored;
        if (isTemporalUnavailable(err)) throw temporarilyUnavailable('The flow');
        throw err;
      }
    },

    /**
     * Long poll without loading the worker: the flow's stored status now (or, before the flow
     * stored any, its live one); unless it is terminal, the stored copy is read again when the
     * flow's workflow closes (Temporal's own long poll on the close event: server-side, no workflow
     * task) and with back-off for the changes before that (250 ms doubling to 1 s), until it
     * changes (state or update time) or `waitMs` ends. Flows store their outcome before they close,
     * so the read after the close finds it. When Temporal cannot watch (down, unknown flow), the
     * reads alone do it, faster (25 ms doubling to 250 ms). One query at most per call.
     */
    async readWhenChanged<S extends FlowStatusBase>(
      flowId: string,
      query: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<S>,
      waitMs: number,
      isTerminal: (state: S['state']) => boolean,
    ): Promise<S | undefined> {
      // The stored copy first: no query (a workflow task on the worker) unless there is none yet.
      const first = (await this.stored<S>(flowId)) ?? (await this.read<S>(flowId, query));
      if (!first || waitMs <= 0 || isTerminal(first.state)) return first;
      const deadline = Date.now() + waitMs;
      const stop = new AbortController();
      let watching = true;
      let answered = false;
      const never = new Promise(() => undefined);
      let wake: Promise<unknown> = this.whenClosed(flowId, stop.signal).then((closed) => {
        [watching, answered] = [closed, true];
      });
      let timer: NodeJS.Timeout | undefined;
      try {
        for (let delay = 250, readsAlone = false; Date.now() < deadline; ) {
          await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, Math.min(delay, deadline - Date.now())))), wake]);
          clearTimeout(timer);
          if (answered) wake = never; // the watch answers once
          const stored = await this.stored<S>(flowId);
          if (stored && (stored.state !== first.state || stored.updated_at !== first.updated_at)) return stored;
          if (!watching && !readsAlone) [readsAlone, delay] = [true, 25]; // the watch failed
          else delay = Math.min(delay * 2, readsAlone ? 250 : 1_000);
        }
        return first;
      } finally {
        stop.abort();
      }
    },

    /**
     * True once the flow's workflow run has closed (completed, failed, continued as new, …): the
     * history service's long poll on the close event, re-asked when it answers empty. False when
     * Temporal cannot tell (unreachable, no such workflow) or `signal` aborts; never throws.
     */
    async whenClosed(flowId: string, signal: AbortSignal): Promise<boolean> {
      let nextPageToken: Uint8Array | undefined;
      try {
        while (!signal.aborted) {
          const page = await client.withAbortSignal(signal, () =>
            client.workflowService.getWorkflowExecutionHistory({
              namespace: client.options.namespace,
              execution: { workflowId: flowId },
              waitNewEvent: true,
              historyEventFilterType: protos.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
              skipArchival: true,
              nextPageToken,
            }),
          );
          if (page.history?.events?.length) return true;
          nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
        }
      } catch {
        // Unreachable, unknown flow, aborted: the caller reads the stored copy on its own.
      }
      return false;
    },

    /**
     * Idempotent start in one round trip (update-with-start, `USE_EXISTING`, `REJECT_DUPLICATE`):
     * the same key and body return the same flow, another body is a 409. Without an answer within
     * `waitMs` (Temporal slow, no worker, a closed flow), the memo decides the conflict, a closed or
     * settled flow answers `existing`, and otherwise `accepted` with its current state; if the start
     * had not even reached Temporal it is started now, so an `accepted` flow always exists.
     */
    async startWithUpdate<S extends FlowStatusBase>(spec: StartWithUpdateSpec<S>): Promise<StartOutcome<S>> {
      const fingerprint = requestFingerprint(spec.body);
      const requestId = randomUUID();
      const startOperation = new WithStartWorkflowOperation(spec.workflowType, {
        taskQueue: spec.taskQueue,
        workflowId: spec.flowId,
        args: [spec.input({ fingerprint, requestId })],
        memo: { request_fingerprint: fingerprint },
        workflowIdConflictPolicy: 'USE_EXISTING',
        // A finished flow keeps its id: the key never starts a second one.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      try {
        const answer = await within(spec.waitMs, () =>
          client.workflow.executeUpdateWithStart(spec.update, {
            args: [{ request_fingerprint: fingerprint, request_id: requestId }],
            startWorkflowOperation: startOperation,
          }),
        );
        return { outcome: answer.created ? 'created' : 'existing', status: answer.status };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === IDEMPOTENCY_CONFLICT) {
          throw idempotencyConflict(spec.idempotencyKey);
        }
        let memoFingerprint: unknown;
        try {
          const description = await within(deadlines.readMs, () => client.workflow.getHandle(spec.flowId).describe());
          memoFingerprint = description.memo?.request_fingerprint;
        } catch (describeErr) {
          if (!(describeErr instanceof WorkflowNotFoundError)) {
            if (isTemporalUnavailable(err) || err instanceof WorkflowExecutionAlreadyStartedError) throw temporarilyUnavailable('Temporal');
            throw err;
          }
          await within(deadlines.startMs, () => client.workflow.start(spec.workflowType, startOperation.options));
          memoFingerprint = fingerprint;
        }
        if (memoFingerprint !== fingerprint) throw idempotencyConflict(spec.idempotencyKey);
        const current = await spec.read(spec.flowId).catch(() => undefined);
        if (current && (err instanceof WorkflowExecutionAlreadyStartedError || spec.settled?.(current))) return { outcome: 'existing', status: current };
        return { outcome: 'accepted', status: current ?? (await this.stored<S>(spec.flowId)) ?? spec.starting() };
      }
    },

    /** Whether Temporal knows the flow (bounded): true, false, or 'unknown' when it cannot say. */
    async exists(flowId: string): Promise<boolean | 'unknown'> {
      try {
        await within(deadlines.readMs, () => client.workflow.getHandle(flowId).describe());
        return true;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        return 'unknown';
      }
    },
  };
}
export type FlowGateway = ReturnType<typeof flowGateway>;
