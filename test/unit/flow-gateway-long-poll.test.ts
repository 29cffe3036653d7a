import type { Client } from '@temporalio/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { flowGateway } from '../../api/flow-gateway.js';
import type { FlowsRepository } from '../../persistence/flows-repository.js';

// The long poll behind GET …?wait=: the stored copy is read again when Temporal says the workflow
// closed (its long poll on the close event), with slow back-off before that, and with fast
// back-off when Temporal cannot watch. Fake clock, fake Temporal, fake stored copy.

type Status = { flow_id: string; flow_type: 'tokenize'; merchant_reference: string; state: string; started_at: string; updated_at: string };
const status = (state: string, updatedAt: string): Status => ({ flow_id: 'f-1', flow_type: 'tokenize', merchant_reference: 'r', state, started_at: 't0', updated_at: updatedAt });

function setUp(closeWatch: (signal: AbortSignal) => Promise<{ history?: { events?: unknown[] }; nextPageToken?: Uint8Array }>) {
  let current = status('AWAITING_AUTHORIZATION', 't0');
  const reads: number[] = [];
  const started = Date.now();
  const flows = {
    find: async () => {
      reads.push(Date.now() - started);
      return { status: current };
    },
  } as unknown as FlowsRepository;
  const watchSignals: AbortSignal[] = [];
  let signal: AbortSignal | undefined;
  const client = {
    options: { namespace: 'default' },
    withAbortSignal: (s: AbortSignal, fn: () => Promise<unknown>) => {
      signal = s;
      return fn();
    },
    workflowService: {
      getWorkflowExecutionHistory: () => {
        watchSignals.push(signal!);
        return closeWatch(signal!);
      },
    },
  } as unknown as Client;
  const gateway = flowGateway({ client, flows });
  const poll = (waitMs: number) =>
    gateway.readWhenChanged<Status>('f-1', async () => current, waitMs, (s) => ['COMPLETED', 'FAILED'].includes(s));
  return { poll, reads, watchSignals, change: (s: Status) => (current = s), started };
}

const closesAt = (ms: number) => (signal: AbortSignal) =>
  new Promise<{ history: { events: unknown[] } }>((resolve, reject) => {
    const t = setTimeout(() => resolve({ history: { events: [{ eventType: 'COMPLETED' }] } }), ms);
    signal.addEventListener('abort', () => (clearTimeout(t), reject(new Error('cancelled'))));
  });

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-01T10:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('long poll on the stored copy', () => {
  it('answers when the workflow closes, not at the next back-off read; few reads before', async () => {
    const t = setUp(closesAt(1_200));
    const answer = t.poll(20_000);
    await vi.advanceTimersByTimeAsync(1_150);
    t.change(status('COMPLETED', 't1')); // stored just before the close, as flows do
    await vi.advanceTimersByTimeAsync(60);
    const result = await answer;
    expect(result?.state).toBe('COMPLETED');
    // first read at 0, back-off reads at 250 and 750, then the one the close woke at 1,200 (not 1,750)
    expect(t.reads).toEqual([0, 250, 750, 1_200]);
    expect(t.watchSignals).toHaveLength(1);
  });

  it('sees a change before the close with back-off of 250 ms doubling to 1 s, then stops watching', async () => {
    const t = setUp(closesAt(60_000));
    const answer = t.poll(20_000);
    await vi.advanceTimersByTimeAsync(2_000);
    t.change(status('CREATING_TOKEN', 't1'));
    await vi.advanceTimersByTimeAsync(2_000);
    expect((await answer)?.state).toBe('CREATING_TOKEN');
    expect(t.reads).toEqual([0, 250, 750, 1_750, 2_750]);
    expect(t.watchSignals[0]!.aborted).toBe(true); // the watch is cancelled with the answer
  });

  it('reads alone, fast (25 ms doubling to 250 ms), when Temporal cannot watch', async () => {
    const t = setUp(() => Promise.reject(Object.assign(new Error('14 UNAVAILABLE: connection refused'), { code: 14 })));
    const answer = t.poll(20_000);
    await vi.advanceTimersByTimeAsync(700);
    t.change(status('COMPLETED', 't1'));
    await vi.advanceTimersByTimeAsync(300);
    expect((await answer)?.state).toBe('COMPLETED');
    // the failed watch wakes the loop at once (read at 0 ms), then 25, 50, 100, 200, 250 …
    expect(t.reads).toEqual([0, 0, 25, 75, 175, 375, 625, 875]);
  });

  it('answers the unchanged status when the wait ends, and a terminal status at once', async () => {
    const t = setUp(closesAt(60_000));
    const answer = t.poll(3_000);
    await vi.advanceTimersByTimeAsync(3_100);
    expect((await answer)?.state).toBe('AWAITING_AUTHORIZATION');
    expect(t.reads.at(-1)).toBe(3_000);
    expect(t.watchSignals[0]!.aborted).toBe(true);

    t.change(status('COMPLETED', 't2'));
    const done = await t.poll(20_000);
    expect(done?.state).toBe('COMPLETED');
    expect(t.watchSignals).toHaveLength(1); // no watch for a terminal status
  });
});
