import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../../stack/ports.js';
import { startTemporalDevServer, type TemporalDevServer } from '../../stack/temporal-dev-server.js';
import { customSearchAttributes } from '../../workflows/search-attributes.js';

// `npm run dev` keeps Temporal's database in .data/: one made by an older version lacks the
// search attributes added since (the CLI registers its --search-attribute flags only in a new
// database). The dev server start registers them, instead of timing out.

const dir = await mkdtemp(join(tmpdir(), 'kts-temporal-upgrade-'));
let server: TemporalDevServer | undefined;
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function registered(address: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    return Object.keys(customAttributes ?? {});
  } finally {
    await connection.close();
  }
}

describe('Temporal dev server on a database from an older version', () => {
  it('registers a search attribute the database lacks, then serves', async () => {
    const dbFile = join(dir, 'dev.sqlite');
    server = await startTemporalDevServer({ port: await getFreePort(), headless: true, echo: false, dbFile, name: 'upgrade-temporal' });
    // An older database: SubscriptionId was not there yet.
    const connection = await Connection.connect({ address: server.address });
    await connection.operatorService.removeSearchAttributes({ namespace: 'default', searchAttributes: ['SubscriptionId'] });
    await connection.close();
    expect(await registered(server.address)).not.toContain('SubscriptionId');
    await server.stop();

    server = await startTemporalDevServer({ port: await getFreePort(), headless: true, echo: false, dbFile, name: 'upgrade-temporal', readyTimeoutMs: 30_000 });
    expect(await registered(server.address)).toEqual(expect.arrayContaining(customSearchAttributes.map((k) => k.name)));
  }, 90_000);
});
