import { DefaultLogger, Runtime } from '@temporalio/worker';

// Workers in tests log every state change at INFO; keep warnings and errors only, so a failing
// test's output is readable. Runs once per test file process, before any worker exists.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process (a second file in the same fork): nothing to do.
}
