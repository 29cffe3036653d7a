import { readFile } from 'node:fs/promises';
import type { TemporalConfig } from '../config/env.js';

/** Address, TLS and API key for both the client (API) and the worker's native connection. */
export async function temporalConnectionOptions(config: TemporalConfig) {
  const clientCertPair =
    config.clientCertPath && config.clientKeyPath
      ? { crt: await readFile(config.clientCertPath), key: await readFile(config.clientKeyPath) }
      : undefined;
  return {
    address: config.address,
    tls: config.tls ? { clientCertPair, serverNameOverride: config.serverNameOverride } : undefined,
    apiKey: config.apiKey,
  };
}
