import { condition, defineSignal, defineUpdate, proxyActivities, setHandler } from '@temporalio/workflow';

// The Temporal floor for a flow: the same number of activities, signals and updates as the flow,
// doing nothing. What any flow with that shape costs on this server, however lean its code.

export const floorSignal = defineSignal('floorSignal');
export const floorDoneUpdate = defineUpdate<string>('floorDone');

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '30s' });

/** `activities` no-op activities; after the first `signalAfter`, waits for one signal. */
export async function floorWorkflow(input: { activities: number; signalAfter?: number }): Promise<string> {
  let signalled = false;
  let done = false;
  setHandler(floorSignal, () => void (signalled = true));
  setHandler(floorDoneUpdate, async () => {
    await condition(() => done);
    return 'done';
  });
  for (let i = 0; i < input.activities; i++) {
    if (input.signalAfter !== undefined && i === input.signalAfter) await condition(() => signalled);
    await noop();
  }
  done = true;
  return 'done';
}
