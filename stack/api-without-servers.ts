import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { buildApi, type ApiDeps } from '../api/build-api.js';
import type { FlowsRepository } from '../persistence/flows-repository.js';

/**
 * The real API (buildApi: every plugin, route and hook) on stand-ins for Temporal and MongoDB that
 * are never reached by the requests these tests make: authentication, rate limits, headers, error
 * answers, the OpenAPI document. `GET /v1/flows` answers an empty page.
 */
export function buildApiWithoutServers(overrides: Partial<ApiDeps> = {}) {
  const unreachable = new Proxy({}, { get: () => () => Promise.reject(new Error('no server in this test')) });
  return buildApi({
    temporal: unreachable as Client,
    taskQueue: 'no-worker',
    flows: { list: async () => [] } as unknown as FlowsRepository,
    events: unreachable as ApiDeps['events'],
    customerTokens: unreachable as ApiDeps['customerTokens'],
    merchantEvents: { list: async () => [] } as unknown as ApiDeps['merchantEvents'],
    vault: unreachable as ApiDeps['vault'],
    callbackSecret: 'callback-secret-for-tests-0123456789',
    payloadCodec: { encode: async (p) => p, decode: async (p) => p } as PayloadCodec,
    defaultAbandonmentMs: 60_000,
    pingDatabase: async () => 1,
    ...overrides,
  });
}
