import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, startAppStack, type AppStack } from '../harness/app-stack.js';

// The API's /codec endpoint (Temporal's remote codec protocol) over HTTP: what the Temporal UI
// calls from an operator's browser, with a CORS preflight first, and the CLI with --codec-endpoint.

const authToken = 'test-api-token-codec-0123456789';
const uiOrigin = 'http://localhost:8233';
const auth = { authorization: `Bearer ${authToken}`, 'x-namespace': 'default' };
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

const secret = { authorization_token: 'auth-codec-endpoint-5c1d', billing_address: { street_address: 'Drottninggatan 71' } };
const plainJson = { metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(secret)) };

let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack({ withWorker: false, authToken, codecCorsOrigins: [uiOrigin] });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe('codec endpoint', () => {
  it('needs the API bearer token, and answers the UI origin with CORS headers even then', async () => {
    for (const operation of ['encode', 'decode']) {
      const missing = await http('POST', `${stack.apiUrl}/codec/${operation}`, { payloads: [plainJson] }, { origin: uiOrigin });
      expect(missing.status).toBe(401);
      expect(missing.body.error).toBe('unauthorized');
      expect(missing.headers.get('access-control-allow-origin')).toBe(uiOrigin);
      const wrong = await http('POST', `${stack.apiUrl}/codec/${operation}`, { payloads: [plainJson] }, { authorization: 'Bearer wrong-token-0123456789' });
      expect(wrong.status).toBe(401);
    }
  });

  it("answers the browser's preflight without credentials, for the configured origin only", async () => {
    const preflight = await http('OPTIONS', `${stack.apiUrl}/codec/decode`, undefined, {
      origin: uiOrigin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,x-namespace',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')?.split(/,\s*/)).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'x-namespace']),
    );
    expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
    expect(preflight.headers.get('vary')).toContain('Origin');

    const stranger = await http('OPTIONS', `${stack.apiUrl}/codec/encode`, undefined, {
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
    expect(stranger.headers.get('access-control-allow-methods')).toBeNull();
  });

  it('encodes to encrypted payloads and decodes them back; plain payloads pass through decode', async () => {
    const encoded = await http('POST', `${stack.apiUrl}/codec/encode`, { payloads: [plainJson] }, { ...auth, origin: uiOrigin });
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    const [encrypted] = encoded.body.payloads;
    expect(unb64(encrypted.metadata.encoding)).toBe('binary/encrypted');
    expect(unb64(encrypted.metadata['encryption-key-id'])).toMatch(/^ephemeral-/);
    expect(unb64(encrypted.data)).not.toContain(secret.authorization_token);

    const decoded = await http('POST', `${stack.apiUrl}/codec/decode`, { payloads: [encrypted, plainJson] }, auth);
    expect(decoded.status).toBe(200);
    expect(decoded.body.payloads).toEqual([plainJson, plainJson]);
    expect(JSON.parse(unb64(decoded.body.payloads[0].data))).toEqual(secret);
  });

  it('decodes what the workers and clients wrote (the same codec as the data converter)', async () => {
    const [written] = await stack.payloadCodec.encode([defaultPayloadConverter.toPayload(secret)]);
    const asJson = {
      metadata: Object.fromEntries(Object.entries(written!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
      data: Buffer.from(written!.data!).toString('base64'),
    };
    const decoded = await http('POST', `${stack.apiUrl}/codec/decode`, { payloads: [asJson] }, auth);
    expect(decoded.status).toBe(200);
    expect(unb64(decoded.body.payloads[0].metadata.encoding)).toBe('json/plain');
    expect(JSON.parse(unb64(decoded.body.payloads[0].data))).toEqual(secret);
  });

  it('answers 400 for a tampered payload, an unknown key and a body that is not Payloads', async () => {
    const encoded = await http('POST', `${stack.apiUrl}/codec/encode`, { payloads: [plainJson] }, auth);
    const [encrypted] = encoded.body.payloads;
    const data = Buffer.from(encrypted.data, 'base64');
    data[data.length - 1]! ^= 0x01;
    const tampered = await http('POST', `${stack.apiUrl}/codec/decode`, { payloads: [{ ...encrypted, data: data.toString('base64') }] }, auth);
    expect(tampered.status).toBe(400);
    expect(tampered.body).toMatchObject({ error: 'undecodable_payload', message: expect.stringContaining('does not decrypt') });

    const unknownKey = { ...encrypted, metadata: { ...encrypted.metadata, 'encryption-key-id': b64('retired-key') } };
    const unknown = await http('POST', `${stack.apiUrl}/codec/decode`, { payloads: [unknownKey] }, auth);
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('"retired-key", which is not in the key ring');

    const bad = await http('POST', `${stack.apiUrl}/codec/decode`, { payloads: [{ data: 'not base64!' }] }, auth);
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0].field).toBe('body.payloads.0.data');
  });

  it('is documented in the OpenAPI document', async () => {
    const doc = await http('GET', `${stack.apiUrl}/openapi.json`);
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/codec/encode', '/codec/decode']));
    expect(doc.body.paths['/codec/decode'].post.summary).toMatch(/Decode/);
    expect(doc.body.paths['/codec/decode'].options).toBeUndefined();
  });
});
