import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// FerretDB 1.24 on SQLite finds a document by `_id` with `WHERE _ferretdb_sjson->'$._id' = ?`
// (internal/backends/sqlite/collection.go), but creates its own unique `_id` index on
// `_ferretdb_sjson->"_id"` (metadata/registry.go). SQLite uses an index on an expression only for
// that very expression, so every `find`, `update` and `delete` by `_id` scans the whole table
// (`EXPLAIN QUERY PLAN`: `SCAN`), and its cost grows with the collection: ~7 µs per document here,
// 70 ms per lookup at 10,000 flows. The embedded stack adds the index those queries can use, on
// every collection table of a database file; MongoDB (any MONGODB_URI) has its `_id` index and
// needs nothing. FerretDB does not know the extra index and does not need to: it lives and dies
// with its table (DROP TABLE drops it). Done with Python's sqlite3 (Python is already a
// prerequisite: the Temporal binaries come from pip), from outside FerretDB's process, which SQLite
// allows (WAL mode, its own locking); FerretDB's connections prepare their statements again.

const script = String.raw`
import sqlite3, sys
# mode=rw: a database FerretDB has not made yet is an error here, never an empty file made for it.
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=rw", uri=True, timeout=30)
tables = [r[0] for r in db.execute("SELECT table_name FROM _ferretdb_collections")]
for table in tables:
    quoted = '"' + table.replace('"', '""') + '"'
    index = '"' + (table + "_id_lookup").replace('"', '""') + '"'
    db.execute("CREATE INDEX IF NOT EXISTS " + index + " ON " + quoted + " (_ferretdb_sjson->'$._id')")
db.commit()
print(len(tables))
`;

/**
 * Adds the `_id` lookup index to every collection of the database `database` of an embedded
 * FerretDB (its file `<dataDir>/<database>.sqlite`). Idempotent; returns how many collections it
 * covered. Collections created later are not covered until it runs again.
 */
export async function indexFerretDbIdLookups(dataDir: string, database: string): Promise<number> {
  const file = `${dataDir.replace(/\/$/, '')}/${database}.sqlite`;
  const { stdout } = await promisify(execFile)(process.env.PYTHON ?? 'python3', ['-c', script, file], { timeout: 60_000 });
  return Number(stdout.trim());
}
