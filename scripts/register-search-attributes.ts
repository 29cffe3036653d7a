// Registers the flows' custom search attributes on the configured Temporal cluster (idempotent).
import { Connection } from '@temporalio/client';
import { loadConfigOrExit } from '../config/env.js';
import { registerSearchAttributes } from '../temporal/register-search-attributes.js';
import { temporalConnectionOptions } from '../temporal/connection-options.js';
import { customSearchAttributes } from '../workflows/search-attributes.js';

const { temporal } = loadConfigOrExit(['temporal']);
const connection = await Connection.connect(await temporalConnectionOptions(temporal));
await registerSearchAttributes(connection, temporal.namespace);
await connection.close();
console.log(`search attributes ${customSearchAttributes.map((k) => k.name).join(', ')} registered in namespace ${temporal.namespace}`);
