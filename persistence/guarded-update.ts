import type { Collection, Db, Document, Filter, UpdateFilter } from 'mongodb';
import { isDuplicateKeyError } from './mongo.js';

/**
 * Conditional writes by `_id` ("update this document only while it is still older / still
 * pending"), done the way each server does them well.
 *
 * - **MongoDB**: one `updateOne({ _id, ...guard })`, atomic, found by the `_id` index.
 * - **FerretDB 1.x** (the embedded stack's and the test suite's database): it pushes down to SQLite
 *   only a filter that is exactly `{ _id: <string|ObjectId> }`; any other filter decodes every
 *   document of the collection in Go, inside the write path. Measured on a 500-document
 *   collection (`npm run bench`, docs/performance.md): 27 ms of FerretDB CPU per guarded update and
 *   ~50 updates/s at most, against 1.7 ms and 700+/s for the same update by `_id` alone; with
 *   tokenize's writes, that cap was the whole stack's throughput. FerretDB's own conditional update
 *   is not atomic either (it reads the matching documents outside the transaction that writes
 *   them: internal/handler/msg_update.go → common.UpdateDocument → UpdateAll). So on FerretDB the
 *   guard is read by `_id`, tested here, and the write made by `_id`: the same guarantee FerretDB's
 *   own conditional update gives, at a constant cost.
 *
 * `guard.filter` (for MongoDB) and `guard.holds` (for FerretDB) state one condition twice; the
 * integration test `test/integration/guarded-update.test.ts` runs every guard of the repositories
 * both ways on the same sequences and expects the same documents.
 */
export type ServerKind = 'mongodb' | 'ferretdb';

export interface Guard<T extends Document> {
  /** The condition as a MongoDB filter (added to `{ _id }`). */
  filter: Filter<T>;
  /** The same condition, tested on the stored document. */
  holds(doc: T): boolean;
}

/** `unchanged`: the guard failed, or (without upsert) there is no such document. */
export type GuardedResult = 'updated' | 'inserted' | 'unchanged';

const kinds = new WeakMap<Db, Promise<ServerKind>>();

/** Which server this is, asked once per `Db` (FerretDB's `buildInfo` carries `ferretdbVersion`). */
export function serverKind(db: Db): Promise<ServerKind> {
  let kind = kinds.get(db);
  if (!kind) {
    kind = db
      .command({ buildInfo: 1 })
      .then((info) => (typeof info.ferretdbVersion === 'string' ? 'ferretdb' : 'mongodb') as ServerKind)
      .catch((err: unknown) => {
        kinds.delete(db); // ask again next time (the server may be down right now)
        throw err;
      });
    kinds.set(db, kind);
  }
  return kind;
}

/**
 * Applies `update` to document `id` if `guard` holds for it; with `upsert`, inserts it when
 * missing. `kind` forces one way (tests); by default the server's.
 */
export async function updateOneGuarded<T extends Document & { _id: string }>(
  collection: Collection<T>,
  id: string,
  guard: Guard<T>,
  update: UpdateFilter<T>,
  options: { upsert?: boolean; kind?: ServerKind } = {},
): Promise<GuardedResult> {
  const byId = { _id: id } as Filter<T>;
  const kind = options.kind ?? (await serverKind(collection.db));
  if (kind === 'mongodb') {
    try {
      const r = await collection.updateOne({ ...byId, ...guard.filter } as Filter<T>, update, { upsert: options.upsert ?? false });
      if (r.upsertedCount > 0) return 'inserted';
      return r.matchedCount > 0 ? 'updated' : 'unchanged';
    } catch (err) {
      // The guard missed because the document exists and fails it; the upsert then collides on _id.
      if (options.upsert && isDuplicateKeyError(err)) return 'unchanged';
      throw err;
    }
  }
  // FerretDB: read, test, write — by _id only. A document inserted between the read and an upsert
  // collides on _id: read again (a few times at most; each round sees a newer state).
  for (let round = 0; ; round++) {
    const doc = (await collection.findOne(byId)) as T | null;
    if (doc ? !guard.holds(doc) : !options.upsert) return 'unchanged';
    try {
      const r = await collection.updateOne(byId, update, { upsert: !doc });
      if (r.upsertedCount > 0) return 'inserted';
      if (r.matchedCount > 0) return 'updated';
      if (!options.upsert) return 'unchanged'; // deleted since the read
    } catch (err) {
      if (!doc && isDuplicateKeyError(err) && round < 3) continue;
      throw err;
    }
  }
}
