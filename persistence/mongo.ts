import { MongoClient, MongoNetworkError, MongoServerError, MongoServerSelectionError, MongoTopologyClosedError, type Db } from 'mongodb';
import type { MongoConfig } from '../config/env.js';

export const collections = {
  flows: 'flows',
  customerTokens: 'customer_tokens',
  klarnaEvents: 'klarna_events',
  /** Orders placed from authorizations (buy and tokenize), `_id` = Klarna's order_id. */
  orders: 'orders',
  /** Our outbound webhooks to the merchant and their delivery log, `_id` = event id. */
  merchantEvents: 'merchant_events',
  /** Klarna v2 customer tokens (sealed, with their scopes), `_id` = token_ref. */
  v2CustomerTokens: 'v2_customer_tokens',
  /** Klarna v2 network session tokens kept for the hand-off (sealed, 1 hour), `_id` = flow id. */
  v2NetworkSessions: 'v2_network_sessions',
} as const;

export interface Mongo {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/**
 * How long an operation waits for a reachable server before failing. Short on purpose: the API
 * answers 503 at once when the database is down (Klarna and checkouts retry), and activities fail
 * fast and are retried by Temporal with back-off.
 */
export const SERVER_SELECTION_TIMEOUT_MS = 1_000;

/** Connects and makes sure the indexes exist (idempotent; safe from several processes at once). */
export async function connectMongo(config: MongoConfig, options: { connectTimeoutMs?: number; monitorCommands?: boolean } = {}): Promise<Mongo> {
  const client = new MongoClient(config.uri, {
    serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
    appName: 'klarna-token-sagas',
    // Command events (commandStarted/Succeeded/Failed) for the benchmark's tally; off otherwise.
    monitorCommands: options.monitorCommands ?? false,
  });
  // At start the database may still be coming up: keep trying for a while before giving up.
  const giveUpAt = Date.now() + (options.connectTimeoutMs ?? 30_000);
  for (;;) {
    try {
      await client.connect();
      break;
    } catch (err) {
      if (!isDatabaseUnavailableError(err) || Date.now() >= giveUpAt) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const db = client.db(config.database);
  await ensureIndexes(db);
  return { client, db, close: () => client.close() };
}

export async function ensureIndexes(db: Db): Promise<void> {
  // Natural ids are the documents' _id (unique by definition); these cover the other lookups.
  await db.collection(collections.customerTokens).createIndex({ flow_id: 1 }, { unique: true, name: 'flow_id_unique' });
  await db.collection(collections.flows).createIndex({ merchant_reference: 1 }, { name: 'merchant_reference' });
  // Listing (GET /v1/flows): newest first, by itself or under one equality filter.
  await db.collection(collections.flows).createIndex({ created_at: -1, _id: -1 }, { name: 'created' });
  await db.collection(collections.flows).createIndex({ merchant_reference: 1, created_at: -1, _id: -1 }, { name: 'merchant_reference_created' });
  await db.collection(collections.flows).createIndex({ state: 1, created_at: -1, _id: -1 }, { name: 'state_created' });
  await db.collection(collections.flows).createIndex({ flow_type: 1, created_at: -1, _id: -1 }, { name: 'flow_type_created' });
  await db.collection(collections.flows).createIndex({ 'status.token_ref': 1, created_at: -1 }, { name: 'charges_on_token' });
  await db.collection(collections.merchantEvents).createIndex({ subscription_id: 1, created_at: -1 }, { name: 'events_by_subscription' });
  await db.collection(collections.klarnaEvents).createIndex({ flow_id: 1, received_at: 1 }, { name: 'flow_events' });
  // The API's inbox sweep: events still pending, oldest first.
  await db.collection(collections.klarnaEvents).createIndex({ delivery: 1, received_at: 1 }, { name: 'pending_events' });
  // v2 webhooks are found by their payment request (they may arrive before their flow is known).
  await db.collection(collections.klarnaEvents).createIndex({ payment_request_id: 1, received_at: 1 }, { name: 'payment_request_events' });
  // A DECLINED v2 flow's context, so the same one is not replayed (contracts/v2.ts).
  await db.collection(collections.flows).createIndex({ 'status.decline_context': 1 }, { name: 'v2_decline_context' });
  // One order per buy-and-tokenize flow: a second order id for the same flow is refused.
  await db.collection(collections.orders).createIndex({ flow_id: 1 }, { unique: true, name: 'flow_id_unique' });
}

export const isDuplicateKeyError = (err: unknown): boolean => err instanceof MongoServerError && err.code === 11000;

/** The database cannot be reached right now (as opposed to refusing an operation). */
export const isDatabaseUnavailableError = (err: unknown): boolean =>
  err instanceof MongoServerSelectionError || err instanceof MongoNetworkError || err instanceof MongoTopologyClosedError;
