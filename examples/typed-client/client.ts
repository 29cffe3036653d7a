// A typed client for the API in a few lines: the types come from the OpenAPI document
// (`npm run client:types` writes generated/api.ts with openapi-typescript; the test
// test/unit/openapi-contract.test.ts regenerates them and compiles this file with tsc), the
// calls are plain fetch. Paths, methods, path and query parameters, bodies and each status's
// answer are all checked by the compiler.
import type { paths } from './generated/api.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
type Parameters<O> = O extends { parameters: infer X } ? X : never;
type JsonBody<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
type Answers<O> = O extends { responses: infer R }
  ? { [S in keyof R]: { status: S; body: R[S] extends { content: { 'application/json': infer B } } ? B : undefined } }[keyof R]
  : never;
/** The methods a path takes. */
type MethodsOf<P extends keyof paths> = { [M in Method]: paths[P][M] extends undefined | never ? never : M }[Method];

export interface CallOptions<O> {
  path?: Parameters<O> extends { path?: infer X } ? X : never;
  query?: Parameters<O> extends { query?: infer X } ? X : never;
  headers?: Parameters<O> extends { header?: infer X } ? X : never;
  body?: JsonBody<O>;
}

export function apiClient(baseUrl: string, token?: string) {
  return async function call<P extends keyof paths, M extends MethodsOf<P>>(
    method: M,
    path: P,
    options: CallOptions<Operation<P, M>> = {},
  ): Promise<Answers<Operation<P, M>>> {
    const url = new URL(
      String(path).replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String((options.path as Record<string, unknown>)[name]))),
      baseUrl,
    );
    for (const [name, value] of Object.entries((options.query ?? {}) as Record<string, unknown>)) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const response = await fetch(url, {
      method: method.toUpperCase(),
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...((options.headers ?? {}) as Record<string, string>),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined } as Answers<Operation<P, M>>;
  };
}

/** What a checkout service does with it: start a tokenization, then read it. */
export async function example(baseUrl: string, token: string): Promise<string | undefined> {
  const api = apiClient(baseUrl, token);
  const started = await api('post', '/v1/tokenizations', {
    headers: { 'idempotency-key': 'sub-1001' },
    body: {
      merchant_reference: 'sub-1001',
      purchase_country: 'SE',
      purchase_currency: 'SEK',
      locale: 'sv-SE',
      description: 'Coffee subscription',
      order_lines: [{ type: 'digital', name: 'Coffee, monthly', quantity: 1, unit_price: 19900, total_amount: 19900 }],
    },
  });
  if (started.status === 201 || started.status === 200) {
    // The compiler knows this answer's shape: a tokenization's status.
    const read = await api('get', '/v1/tokenizations/{flow_id}', { path: { flow_id: started.body.flow_id } });
    if (read.status === 200) return read.body.state;
  } else if (started.status === 400) {
    // ...and the error shape, with the fields named.
    return started.body.issues?.map((issue) => issue.field).join(', ');
  }
  return undefined;
}
