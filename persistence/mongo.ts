import { MongoClient, MongoServerError, type Db } from 'mongodb';
import type { MongoConfig } from '../config/env.js';

export const collections = {
  flows: 'flows',
  customerTokens: 'customer_tokens',
  klarnaEvents: 'klarna_events',
} as const;

export interface Mongo {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/** Connects and makes sure the indexes exist (idempotent; safe from several processes at once). */
export async function connectMongo(config: MongoConfig): Promise<Mongo> {
  const client = new MongoClient(config.uri, { serverSelectionTimeoutMS: 10_000, appName: 'klarna-token-sagas' });
  await client.connect();
  const db = client.db(config.database);
  await ensureIndexes(db);
  return { client, db, close: () => client.close() };
}

export async function ensureIndexes(db: Db): Promise<void> {
  // Natural ids are the documents' _id (unique by definition); these cover the other lookups.
  await db.collection(collections.customerTokens).createIndex({ flow_id: 1 }, { unique: true, name: 'flow_id_unique' });
  await db.collection(collections.flows).createIndex({ merchant_reference: 1 }, { name: 'merchant_reference' });
  await db.collection(collections.klarnaEvents).createIndex({ flow_id: 1, received_at: 1 }, { name: 'flow_events' });
}

export const isDuplicateKeyError = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000;
