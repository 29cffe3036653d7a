import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TokenizeStatus } from '../../contracts/flow-status.js';
import { customerTokensRepository } from '../../persistence/customer-tokens-repository.js';
import { flowsRepository } from '../../persistence/flows-repository.js';
import { serverKind, updateOneGuarded, type ServerKind } from '../../persistence/guarded-update.js';
import { klarnaEventsRepository } from '../../persistence/klarna-events-repository.js';
import { connectMongo, type Mongo } from '../../persistence/mongo.js';

// Guarded writes on real FerretDB, both ways: as MongoDB does them (one conditional update) and as
// FerretDB does them fast (read by _id, test, write by _id). Each guard of the repositories states
// its condition twice (a filter and a predicate): the same sequence must give the same documents.

let mongo: Mongo;
beforeAll(async () => {
  mongo = await connectMongo({ uri: inject('mongoUri'), database: `guarded_${randomUUID().slice(0, 8)}` });
});
afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
});

const kinds: ServerKind[] = ['mongodb', 'ferretdb'];
const at = new Date('2026-12-01T10:00:00.000Z');
const status = (flowId: string, state: TokenizeStatus['state']): TokenizeStatus => ({
  flow_id: flowId,
  flow_type: 'tokenize',
  state,
  merchant_reference: 'ref-1',
  ignored_authorizations: 0,
  started_at: at.toISOString(),
  updated_at: at.toISOString(),
});
const withoutId = <T extends { _id: unknown }>(doc: T | null) => {
  if (!doc) return doc;
  const { _id, ...rest } = doc;
  return rest;
};

describe('guarded updates', () => {
  it('the test database is FerretDB, so the fast way is the one the product takes here', async () => {
    expect(await serverKind(mongo.db)).toBe('ferretdb');
  });

  it('flow status, the way the server asks for: a late retry of an older write changes nothing', async () => {
    const flows = flowsRepository(mongo.db);
    const flowId = `tokenize-${randomUUID()}`;
    expect(await flows.record(flowId, 1, status(flowId, 'AWAITING_AUTHORIZATION'), new Date())).toBe('stored');
    expect(await flows.record(flowId, 2, status(flowId, 'COMPLETED'), new Date())).toBe('stored');
    // The first write's retry arrives late (its reply was lost): the flow must not move back.
    expect(await flows.record(flowId, 1, status(flowId, 'AWAITING_AUTHORIZATION'), new Date())).toBe('stale');
    expect(await flows.record(flowId, 2, status(flowId, 'COMPLETED'), new Date())).toBe('stale');
    expect(await flows.find(flowId)).toMatchObject({ _id: flowId, seq: 2, state: 'COMPLETED', status: { state: 'COMPLETED' } });
  });

  it('flow status: both ways store by sequence alike (insert, newer, late older, same again, missing seq)', async () => {
    const results: Record<string, unknown[]> = {};
    const docs: Record<string, unknown> = {};
    for (const kind of kinds) {
      const flows = flowsRepository(mongo.db, { kind });
      const flowId = `tokenize-${kind}-${randomUUID()}`;
      results[kind] = [
        await flows.record(flowId, 1, status(flowId, 'AWAITING_AUTHORIZATION'), at),
        await flows.record(flowId, 3, status(flowId, 'COMPLETED'), at),
        await flows.record(flowId, 2, status(flowId, 'CREATING_TOKEN'), at),
        await flows.record(flowId, 3, status(flowId, 'COMPLETED'), at),
      ];
      const stored = await flows.find(flowId);
      expect(stored).toMatchObject({ seq: 3, state: 'COMPLETED', status: { state: 'COMPLETED' } });
      docs[kind] = { ...withoutId(stored), status: { ...stored!.status, flow_id: 'x' } };
      // A document written before sequences existed takes any write.
      const legacyId = `legacy-${kind}-${randomUUID()}`;
      await mongo.db.collection('flows').insertOne({ _id: legacyId as never, flow_type: 'tokenize', state: 'AWAITING_AUTHORIZATION', status: status(legacyId, 'AWAITING_AUTHORIZATION') });
      results[kind]!.push(await flows.record(legacyId, 1, status(legacyId, 'EXPIRED'), at));
      expect((await flows.find(legacyId))?.state).toBe('EXPIRED');
    }
    expect(results.mongodb).toEqual(['stored', 'stored', 'stale', 'stale', 'stored']);
    expect(results.ferretdb).toEqual(results.mongodb);
    expect(docs.ferretdb).toEqual(docs.mongodb);
  });

  it('inbox events: only pending events move, both ways', async () => {
    for (const kind of kinds) {
      const events = klarnaEventsRepository(mongo.db, { kind });
      const ids = [`ev-${kind}-a-${randomUUID()}`, `ev-${kind}-b-${randomUUID()}`];
      for (const id of ids) {
        await events.storeOnce({ _id: id, source: 'authorization_callback', flow_id: 'f-1', payload: {}, received_at: at, delivery: 'pending' });
      }
      await events.markDelivery([ids[0]!], 'no_flow', at);
      await events.markDelivery([...ids, `ev-missing-${randomUUID()}`], 'delivered', new Date('2026-12-01T11:00:00.000Z'));
      expect((await events.find(ids[0]!))).toMatchObject({ delivery: 'no_flow', delivered_at: at });
      expect((await events.find(ids[1]!))).toMatchObject({ delivery: 'delivered', delivered_at: new Date('2026-12-01T11:00:00.000Z') });
    }
  });

  it('token status: the same status again changes nothing (updated_at kept), another one moves it, both ways', async () => {
    for (const kind of kinds) {
      const tokens = customerTokensRepository(mongo.db, { kind });
      const ref = `tok-${kind}-${randomUUID()}`;
      await tokens.save({ _id: ref, flow_id: `flow-${ref}`, merchant_reference: 'm', session_id: 's', token: 'sealed' as never, token_last4: '1234', status: 'ACTIVE', purchase_country: 'SE', purchase_currency: 'SEK', created_at: at });
      await tokens.markStatus(ref, 'SUSPENDED', 'token_suspended', new Date('2026-12-01T11:00:00.000Z'));
      await tokens.markStatus(ref, 'SUSPENDED', 'again', new Date('2026-12-01T12:00:00.000Z'));
      expect(await tokens.findByRef(ref)).toMatchObject({ status: 'SUSPENDED', status_reason: 'token_suspended', updated_at: new Date('2026-12-01T11:00:00.000Z') });
      await tokens.markStatus(ref, 'CANCELLED', 'cancelled_by_merchant', new Date('2026-12-01T13:00:00.000Z'));
      expect(await tokens.findByRef(ref)).toMatchObject({ status: 'CANCELLED', status_reason: 'cancelled_by_merchant' });
    }
  });

  it('without upsert, a missing document stays missing and says unchanged, both ways', async () => {
    type Plain = { _id: string; n: number };
    const collection = mongo.db.collection<Plain>('guarded_plain');
    for (const kind of kinds) {
      const id = `missing-${kind}-${randomUUID()}`;
      const guard = { filter: { n: { $lt: 5 } }, holds: (doc: Plain) => doc.n < 5 };
      expect(await updateOneGuarded<Plain>(collection, id, guard, { $set: { n: 1 } }, { kind })).toBe('unchanged');
      expect(await collection.findOne({ _id: id })).toBeNull();
      expect(await updateOneGuarded<Plain>(collection, id, guard, { $set: { n: 1 } }, { kind, upsert: true })).toBe('inserted');
      expect(await updateOneGuarded<Plain>(collection, id, guard, { $set: { n: 7 } }, { kind })).toBe('updated');
      expect(await updateOneGuarded<Plain>(collection, id, guard, { $set: { n: 2 } }, { kind })).toBe('unchanged');
      expect(await collection.findOne({ _id: id })).toEqual({ _id: id, n: 7 });
    }
  });
});
