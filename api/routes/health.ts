import type { Client } from '@temporalio/client';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

export interface HealthRoutesOptions {
  temporal: Client;
  /** Resolves when the database answers (e.g. a `ping` command). */
  pingDatabase: () => Promise<unknown>;
  /** Each dependency check's bound (default 2 s). */
  checkTimeoutMs?: number;
}

const dependencyState = z.enum(['ok', 'unavailable']);
const readiness = z.object({ status: z.enum(['ready', 'not_ready']), mongodb: dependencyState, temporal: dependencyState });

/**
 * `/health`: liveness (the process answers; says nothing about dependencies, so an orchestrator
 * does not restart the API for a database outage). `/ready`: MongoDB and Temporal reachable now
 * (503 otherwise), for load balancers deciding where to send traffic.
 */
export const healthRoutes: FastifyPluginAsyncZod<HealthRoutesOptions> = async (app, { temporal, pingDatabase, checkTimeoutMs = 2_000 }) => {
  app.get('/health', { schema: { operationId: 'getHealth', summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  const bounded = async (check: () => Promise<unknown>): Promise<'ok' | 'unavailable'> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), checkTimeoutMs)));
    try {
      await Promise.race([check(), timeout]);
      return 'ok';
    } catch {
      return 'unavailable';
    } finally {
      clearTimeout(timer);
    }
  };

  app.get(
    '/ready',
    { schema: { operationId: 'getReadiness', summary: 'Readiness: MongoDB and Temporal reachable', response: { 200: readiness, 503: readiness } } },
    async (_request, reply) => {
      const [mongodb, temporalState] = await Promise.all([
        bounded(pingDatabase),
        bounded(() => temporal.withDeadline(Date.now() + checkTimeoutMs, () => temporal.workflowService.getSystemInfo({}))),
      ]);
      const ready = mongodb === 'ok' && temporalState === 'ok';
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', mongodb, temporal: temporalState });
    },
  );
};
