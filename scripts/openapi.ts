// `npm run openapi [-- <file>]`: the API's OpenAPI document, as /openapi.json serves it, built
// without servers (stack/api-without-servers.ts), to stdout or a file. With bearer tokens
// configured, as production runs (an open development API declares its bearer auth optional).
// `npm run lint:openapi` lints it with Redocly's recommended rules; `npm run client:types`
// generates the typed client's types from it (examples/typed-client/).
import { writeFileSync } from 'node:fs';
import { defaultRateLimits } from '../api/plugins/http-guard.js';
import { buildApiWithoutServers } from '../stack/api-without-servers.js';

/** The document /openapi.json serves, built without servers. */
export async function openApiDocument(options: { authRequired?: boolean; publicBaseUrl?: string } = {}): Promise<Record<string, unknown>> {
  const app = await buildApiWithoutServers({
    authToken: options.authRequired === false ? undefined : 'openapi-document-token',
    rateLimits: defaultRateLimits,
    publicBaseUrl: options.publicBaseUrl,
  });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const text = `${JSON.stringify(await openApiDocument(), null, 2)}\n`;
  const out = process.argv[2];
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
}
