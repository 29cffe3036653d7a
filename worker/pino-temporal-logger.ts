import type { LogLevel, LogMetadata, Logger } from '@temporalio/common';
import type { Logger as PinoLogger } from 'pino';

const pinoLevel: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * The Temporal SDK's logger (worker, workflow and activity logs, incl. the Rust core's) written
 * as pino JSON lines, so the worker's output is structured like the API's: one object per line,
 * with the SDK's metadata (workflowId, activityType, taskQueue, …) as fields.
 */
export function pinoTemporalLogger(logger: PinoLogger): Logger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => logger[pinoLevel[level]]({ ...meta }, message);
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}
