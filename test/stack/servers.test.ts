import { randomUUID } from 'node:crypto';
import { Connection } from '@temporalio/client';
import protos from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { MongoClient, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { customSearchAttributes } from '../../workflows/search-attributes.js';

// The servers test/global-setup.ts injects are real: Temporal answers gRPC with our search
// attributes registered, FerretDB behaves as MongoDB for what persistence/ relies on, and the
// time-skipping test server starts.

const { IndexedValueType } = protos.temporal.api.enums.v1;

describe('Temporal dev server', () => {
  let connection: Connection;
  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('serves the default namespace', async () => {
    const { namespaceInfo } = await connection.workflowService.describeNamespace({ namespace: 'default' });
    expect(namespaceInfo?.name).toBe('default');
  });

  it('has the flows search attributes registered as Keyword', async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    for (const key of customSearchAttributes) {
      expect(key.type).toBe('KEYWORD');
      expect(customAttributes?.[key.name], key.name).toBe(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    }
  });
});

describe('MongoDB (FerretDB)', () => {
  let client: MongoClient;
  const database = `servers_${randomUUID().slice(0, 8)}`;
  beforeAll(async () => {
    client = new MongoClient(inject('mongoUri'), { serverSelectionTimeoutMS: 10_000 });
    await client.connect();
  });
  afterAll(async () => {
    await client?.db(database).dropDatabase();
    await client?.close();
  });

  it('inserts, finds, enforces unique indexes and upserts', async () => {
    const items = client.db(database).collection<{ _id: string; sku: string; count?: number }>('items');
    await items.createIndex({ sku: 1 }, { unique: true, name: 'sku_unique' });
    await items.insertOne({ _id: 'a', sku: 'SKU-1' });

    expect(await items.find({ sku: 'SKU-1' }).toArray()).toEqual([{ _id: 'a', sku: 'SKU-1' }]);

    const duplicate = await items.insertOne({ _id: 'b', sku: 'SKU-1' }).catch((err: unknown) => err);
    expect(duplicate).toBeInstanceOf(MongoServerError);
    expect((duplicate as MongoServerError).code).toBe(11000);

    const upsert = () =>
      items.findOneAndUpdate({ _id: 'c' }, { $setOnInsert: { sku: 'SKU-2' }, $inc: { count: 1 } }, { upsert: true, returnDocument: 'after' });
    expect(await upsert()).toEqual({ _id: 'c', sku: 'SKU-2', count: 1 });
    expect(await upsert()).toEqual({ _id: 'c', sku: 'SKU-2', count: 2 });
    expect(await items.countDocuments()).toBe(2);
  });
});

describe('time-skipping test server', () => {
  it('starts from the injected path and skips time', async () => {
    const env = await TestWorkflowEnvironment.createTimeSkipping({
      server: { executable: { type: 'existing-path', path: inject('temporalTestServerPath') } },
    });
    try {
      const before = await env.currentTimeMs();
      await env.sleep('1 day');
      expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(24 * 3600_000);
    } finally {
      await env.teardown();
    }
  });
});
