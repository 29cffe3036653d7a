// What test/global-setup.ts hands to tests through `inject(...)`.
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `127.0.0.1:<port>` of the run's Temporal dev server (namespace `default`, search attributes registered). */
    temporalAddress: string;
    /** `mongodb://127.0.0.1:<port>/` of the run's FerretDB (or TEST_MONGODB_URI). Use a database of your own per file. */
    mongoUri: string;
    /** The time-skipping test server, for `TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path } } })`. */
    temporalTestServerPath: string;
  }
}
