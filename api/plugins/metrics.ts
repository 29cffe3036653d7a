import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

// The API's Prometheus metrics at GET /metrics (docs/performance.md, "Metrics and traces"):
//   http_request_duration_seconds{method,route,status_code}  histogram: rate (its _count) and latency
//   plus, with `processMetrics`, prom-client's process and Node.js metrics (CPU, memory, event loop lag).
// `route` is the route's pattern (`/v1/tokenizations/:flow_id`), never the path a caller sent, so
// the label set stays small and no flow id or other value from a request lands in a label; a
// request no route matched counts as `unmatched`. Flow outcomes are counted by the worker, where
// they are stored (`flow_outcomes` on its endpoint, activities/flow-storage-activities.ts).
//
// /metrics is a `health` route (api/route-kinds.ts): open, or bearer with API_HEALTH_AUTH, and not
// in the OpenAPI document. Each API instance has its own registry (tests build many in a process).

export interface ApiMetricsOptions {
  /** prom-client's default process metrics too (the API process; not in tests that build several APIs). */
  processMetrics?: boolean;
}

/** Latency buckets in seconds, up to the long polls (`?wait=` up to 30 s). */
const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

/** Register before any route: the hook then sees every request. */
export function registerMetrics(app: FastifyInstance, options: ApiMetricsOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const requests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'API requests by method, route pattern and status code: count (rate) and duration until the answer was sent',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets,
    registers: [registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    requests.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    void reply.type(registry.contentType);
    return registry.metrics();
  });
  return registry;
}
