import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureIndexes } from '../../persistence/mongo.js';
import { startFerretDb, type FerretDb } from '../../stack/ferretdb.js';
import { getFreePort } from '../../stack/ports.js';

// FerretDB 1.24's lookups by _id scan the table until the embedded stack adds the index they can
// use (stack/ferretdb-id-index.ts). Its own FerretDB, so the data directory is known.

let ferretdb: FerretDb;
let client: MongoClient;
let dataDir: string;
const database = 'id_index';

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'kts-ferretdb-index-'));
  ferretdb = await startFerretDb({ port: await getFreePort(), dataDir, echo: false, name: 'index-ferretdb' });
  client = new MongoClient(ferretdb.uri);
  await client.connect();
});
afterAll(async () => {
  await client?.close();
  await ferretdb?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

/** SQLite's plan for FerretDB's find by _id, from FerretDB's explain. */
async function plan(collection: string, id: string): Promise<string> {
  const explained = await client.db(database).command({ explain: { find: collection, filter: { _id: id } } });
  return JSON.stringify(explained.queryPlanner);
}
/**
 * The plan once FerretDB's pooled connection has seen the new schema: SQLite notices another
 * process's schema change when the connection next reads the database (an EXPLAIN alone does
 * not), so a real lookup goes first (measured: the one after it plans with the index).
 */
async function planAfterSchemaChange(collection: string, id: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 5 && !/USING INDEX/.test(last); i++) {
    await client.db(database).collection<{ _id: string }>(collection).findOne({ _id: id });
    last = await plan(collection, id);
  }
  return last;
}

describe('FerretDB _id lookup index', () => {
  it('turns the table scan of a lookup by _id into an index search, for every collection, and keeps the data', async () => {
    const db = client.db(database);
    await ensureIndexes(db);
    await db.collection<{ _id: string; n: number }>('flows').insertMany(Array.from({ length: 2_000 }, (_, n) => ({ _id: `f-${n}`, n })));
    expect(await plan('flows', 'f-7')).toMatch(/SCAN/);
    expect(await plan('flows', 'f-7')).not.toMatch(/USING INDEX/);

    const covered = await ferretdb.indexIdLookups(database);
    expect(covered).toBeGreaterThanOrEqual(5); // flows, customer_tokens, klarna_events, orders, merchant_events
    expect(await planAfterSchemaChange('flows', 'f-7')).toMatch(/SEARCH .*USING INDEX flows_\w+_id_lookup/);
    expect(await planAfterSchemaChange('klarna_events', 'e-1')).toMatch(/USING INDEX klarna_events_\w+_id_lookup/);
    expect(await ferretdb.indexIdLookups(database)).toBe(covered); // idempotent

    // The same answers through the index, writes included; the unique _id still holds.
    const flows = db.collection<{ _id: string; n: number }>('flows');
    expect(await flows.findOne({ _id: 'f-7' })).toEqual({ _id: 'f-7', n: 7 });
    expect((await flows.updateOne({ _id: 'f-8' }, { $set: { n: 80 } })).modifiedCount).toBe(1);
    expect(await flows.findOne({ _id: 'f-8' })).toEqual({ _id: 'f-8', n: 80 });
    await expect(flows.insertOne({ _id: 'f-9', n: 9 })).rejects.toMatchObject({ code: 11000 });
    expect(await flows.countDocuments({})).toBe(2_000);

    // A database FerretDB never made is refused, and no file is left behind for it.
    await expect(ferretdb.indexIdLookups('never_made')).rejects.toThrow(/unable to open database/);
    expect(existsSync(join(dataDir, 'never_made.sqlite'))).toBe(false);

    // A dropped collection takes the index with it; created again, it is plain until indexed again.
    await flows.drop();
    await flows.insertOne({ _id: 'g-1', n: 1 });
    expect(await plan('flows', 'g-1')).toMatch(/SCAN/);
    await ferretdb.indexIdLookups(database);
    expect(await planAfterSchemaChange('flows', 'g-1')).toMatch(/USING INDEX/);
  });
});
