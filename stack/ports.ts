import { createConnection, createServer } from 'node:net';

// Port checks for the embedded servers: fail early with a message that says what to change,
// instead of a server's own bind error somewhere in its log.

/** Resolves when `host:port` can be bound; otherwise throws "port 7233 (Temporal) is already in use; set TEMPORAL_PORT=…". */
export async function assertPortFree(port: number, host: string, label: string, envVar?: string): Promise<void> {
  const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
  if (!error) return;
  const fix = envVar ? `set ${envVar}=<another port>` : 'choose another port';
  if (error.code === 'EADDRINUSE') {
    throw new Error(`port ${port} (${label}) is already in use on ${host}; stop what is using it or ${fix}`);
  }
  throw new Error(`cannot listen on ${host}:${port} (${label}): ${error.message}; ${fix}`);
}

/** A port that was free a moment ago (the OS's choice for port 0). */
export async function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** Whether something accepts TCP connections on `host:port` right now. */
export function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves once `host:port` accepts connections; rejects after `timeoutMs`, or as soon as `abort`
 * fires (e.g. the server process exited).
 */
export async function waitForPort(host: string, port: number, timeoutMs: number, abort?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    abort?.throwIfAborted();
    if (await canConnect(host, port)) return;
    if (Date.now() >= deadline) throw new Error(`nothing accepted connections on ${host}:${port} within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
