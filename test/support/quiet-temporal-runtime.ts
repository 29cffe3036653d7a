import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogEntry } from '@temporalio/worker';

// Workers in tests log every state change at INFO; keep warnings and errors only, so a failing
// test's output is readable. Two kinds of warning are expected and dropped:
//   - "Activity failed" for a Klarna refusal a test provokes on purpose (an ApplicationFailure of
//     type Klarna.*, or a network error that the test then asserts is retried);
//   - the core's notice that the time-skipping test server does not advertise a newer capability.
// Everything else (a real error, an unexpected activity failure) still prints.
// Runs once per test file process, before any worker exists.
function provoked(entry: LogEntry): boolean {
  if (entry.message !== 'Activity failed') return false;
  const error = entry.meta?.error as { type?: unknown } | undefined;
  return typeof error?.type === 'string' && error.type.startsWith('Klarna.');
}

const base = new DefaultLogger('WARN');
try {
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (!provoked(entry)) base.log(entry.level, entry.message, entry.meta);
    }),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR', other: 'ERROR' }) } },
  });
} catch {
  // Already installed in this process (a second file in the same fork): nothing to do.
}
