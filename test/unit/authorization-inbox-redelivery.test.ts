import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { authorizationInbox } from '../../api/authorization-inbox.js';
import type { KlarnaEventDocument } from '../../persistence/klarna-events-repository.js';
import { createTokenVault } from '../../persistence/token-vault.js';

// The inbox stores an authorization before answering and signals the flow in the background. When
// Temporal does not take the signal, this process tries again with back-off, so the flow gets it
// soon after the outage instead of at its next inbox read (up to 5 minutes later). Fakes for the
// gateway and the repository: what is tested is the retry logic, not Temporal or MongoDB.

function fakes(signalFailures: number) {
  const stored = new Map<string, KlarnaEventDocument>();
  const signals: unknown[] = [];
  let failuresLeft = signalFailures;
  const gateway = {
    stored: async () => undefined,
    exists: async () => true,
    within: <T>(_ms: number, fn: () => Promise<T>) => fn(),
    deadlines: { signalMs: 1_000 },
    client: {
      workflow: {
        getHandle: () => ({
          signal: async (_def: unknown, payload: unknown) => {
            signals.push(payload);
            if (failuresLeft-- > 0) throw new Error('14 UNAVAILABLE: Temporal is down');
          },
        }),
      },
    },
  };
  const events = {
    storeOnce: async (event: KlarnaEventDocument) => {
      if (stored.has(event._id)) return false;
      stored.set(event._id, { ...event });
      return true;
    },
    markDelivery: async (ids: string[], delivery: KlarnaEventDocument['delivery']) => {
      for (const id of ids) {
        const event = stored.get(id);
        if (event?.delivery === 'pending') event.delivery = delivery;
      }
    },
    find: async (id: string) => stored.get(id) ?? null,
    pendingAuthorizations: async (before: Date, limit: number) =>
      [...stored.values()]
        .filter((e) => e.delivery === 'pending' && e.received_at < before && ['authorization_callback', 'checkout_authorization'].includes(e.source))
        .sort((a, b) => a.received_at.getTime() - b.received_at.getTime())
        .slice(0, limit),
  };
  return { gateway, events, stored, signals };
}

const until = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
};

describe('authorization inbox redelivery', () => {
  it('answers pending while Temporal refuses the signal, then delivers it on a later try', async () => {
    const { gateway, events, stored, signals } = fakes(1);
    const inbox = authorizationInbox({ gateway: gateway as never, events: events as never, vault: createTokenVault(randomBytes(32)), ackWaitMs: 50 });
    const answer = await inbox.accept('tokenize-a', { authorization_token: 'auth-token-1', session_id: 's1' }, 'klarna_callback', 'keep');
    expect(answer.delivery).toBe('pending');
    expect(stored.get(answer.event_id)?.delivery).toBe('pending');

    await until(() => stored.get(answer.event_id)?.delivery === 'delivered', 5_000);
    expect(stored.get(answer.event_id)?.delivery).toBe('delivered');
    expect(signals).toHaveLength(2);
  });

  it('stops trying once the flow took the event from the inbox itself', async () => {
    const { gateway, events, signals } = fakes(1);
    const inbox = authorizationInbox({ gateway: gateway as never, events: events as never, vault: createTokenVault(randomBytes(32)), ackWaitMs: 50 });
    const answer = await inbox.accept('tokenize-b', { authorization_token: 'auth-token-2' }, 'checkout', 'keep');
    expect(answer.delivery).toBe('pending');
    // The flow's own inbox read marks it delivered before the retry (due after 1 s).
    await events.markDelivery([answer.event_id], 'delivered');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(signals).toHaveLength(1);
  });

  it('gives up after redeliverForMs, leaving the event pending for the flow to collect', async () => {
    const { gateway, events, stored, signals } = fakes(100);
    const inbox = authorizationInbox({
      gateway: gateway as never,
      events: events as never,
      vault: createTokenVault(randomBytes(32)),
      ackWaitMs: 50,
      redeliverForMs: 3_500,
    });
    const answer = await inbox.accept('tokenize-c', { authorization_token: 'auth-token-3' }, 'checkout', 'keep');
    await new Promise((r) => setTimeout(r, 4_500));
    // The first try, then at 1 s and 3 s (the next, at 7 s, would pass the 3.5 s budget).
    expect(signals).toHaveLength(3);
    expect(stored.get(answer.event_id)?.delivery).toBe('pending');
  });

  it('the sweep signals authorizations pending for over 30 s (oldest first), marks what came of it, and leaves the rest', async () => {
    const { gateway, events, stored, signals } = fakes(0);
    const vault = createTokenVault(randomBytes(32));
    const inbox = authorizationInbox({ gateway: gateway as never, events: events as never, vault, ackWaitMs: 50 });
    const event = (id: string, agoMs: number, source: KlarnaEventDocument['source'] = 'authorization_callback'): KlarnaEventDocument => ({
      _id: id,
      source,
      flow_id: `flow-${id}`,
      session_id: `session-${id}`,
      payload: { authorization_token: vault.seal(`token-${id}`) },
      received_at: new Date(Date.now() - agoMs),
      delivery: 'pending',
    });
    for (const e of [event('old', 120_000), event('older', 300_000, 'checkout_authorization'), event('fresh', 5_000), event('hpp', 300_000, 'hpp_status_update')]) {
      await events.storeOnce(e);
    }
    expect(await inbox.sweep()).toEqual({ delivered: 2, no_flow: 0, pending: 0 });
    expect(signals).toEqual([
      { authorization_token: 'token-older', session_id: 'session-older', source: 'checkout', event_id: 'older' },
      { authorization_token: 'token-old', session_id: 'session-old', source: 'klarna_callback', event_id: 'old' },
    ]);
    expect([...stored.values()].map((e) => [e._id, e.delivery])).toEqual([
      ['old', 'delivered'],
      ['older', 'delivered'],
      ['fresh', 'pending'], // the process that stored it is still trying
      ['hpp', 'pending'], // not an authorization: its own route redelivers it
    ]);
    expect(await inbox.sweep()).toEqual({ delivered: 0, no_flow: 0, pending: 0 });
  });

  it('the sweep keeps an event pending while Temporal refuses, and marks no_flow for a flow that is gone', async () => {
    const { gateway, events, stored } = fakes(1);
    const vault = createTokenVault(randomBytes(32));
    (gateway.client.workflow as { getHandle: (id: string) => unknown }).getHandle = (id: string) => ({
      signal: async () => {
        if (id === 'flow-gone') throw new WorkflowNotFoundError('gone', id, undefined);
        throw new Error('14 UNAVAILABLE: Temporal is down');
      },
    });
    const inbox = authorizationInbox({ gateway: gateway as never, events: events as never, vault, ackWaitMs: 50 });
    for (const [id, flow] of [['a', 'flow-down'], ['b', 'flow-gone']] as const) {
      await events.storeOnce({ _id: id, source: 'authorization_callback', flow_id: flow, payload: { authorization_token: vault.seal('t') }, received_at: new Date(Date.now() - 60_000), delivery: 'pending' });
    }
    expect(await inbox.sweep()).toEqual({ delivered: 0, no_flow: 1, pending: 1 });
    expect(stored.get('a')?.delivery).toBe('pending');
    expect(stored.get('b')?.delivery).toBe('no_flow');
  });
});
