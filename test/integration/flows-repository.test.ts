import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { TokenizeStatus } from '../../contracts/flow-status.js';
import { flowsRepository } from '../../persistence/flows-repository.js';
import { connectMongo, type Mongo } from '../../persistence/mongo.js';

// The stored copy of a flow's status on real FerretDB: writes are ordered by the flow's sequence.

let mongo: Mongo;
beforeAll(async () => {
  mongo = await connectMongo({ uri: inject('mongoUri'), database: `flows_${randomUUID().slice(0, 8)}` });
});
afterAll(async () => {
  await mongo?.db.dropDatabase();
  await mongo?.close();
});

const status = (flowId: string, state: TokenizeStatus['state']): TokenizeStatus => ({
  flow_id: flowId,
  flow_type: 'tokenize',
  state,
  merchant_reference: 'ref-1',
  ignored_authorizations: 0,
  started_at: '2026-12-01T10:00:00.000Z',
  updated_at: '2026-12-01T10:00:00.000Z',
});

describe('flows repository', () => {
  it('keeps the latest write by sequence: a late retry of an older write changes nothing', async () => {
    const flows = flowsRepository(mongo.db);
    const flowId = `tokenize-${randomUUID()}`;
    expect(await flows.record(flowId, 1, status(flowId, 'AWAITING_AUTHORIZATION'), new Date())).toBe('stored');
    expect(await flows.record(flowId, 2, status(flowId, 'COMPLETED'), new Date())).toBe('stored');
    // The first write's retry arrives late (its reply was lost): the flow must not move back.
    expect(await flows.record(flowId, 1, status(flowId, 'AWAITING_AUTHORIZATION'), new Date())).toBe('stale');
    expect(await flows.record(flowId, 2, status(flowId, 'COMPLETED'), new Date())).toBe('stale');
    const doc = await flows.find(flowId);
    expect(doc).toMatchObject({ _id: flowId, seq: 2, state: 'COMPLETED', status: { state: 'COMPLETED' } });
  });
});
