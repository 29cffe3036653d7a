import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callbackSecretFor, isCallbackSecretValid } from '../../klarna/callback-auth.js';
import { http, startAppStack, type AppStack } from '../harness/app-stack.js';

// Rotating CALLBACK_SECRET (SECURITY.md): with CALLBACK_SECRET_PREVIOUS set, the API takes
// callbacks of flows whose URLs were made under either secret, and nothing else.

const previous = `previous-${randomBytes(16).toString('hex')}`;
let stack: AppStack;
beforeAll(async () => {
  stack = await startAppStack({ withWorker: false, previousCallbackSecret: previous });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe('callback secret rotation', () => {
  it('checks a presented secret against the current and the previous secret, in constant time', () => {
    const flowId = 'tokenize-rotation';
    expect(isCallbackSecretValid(['current-0123456789', previous], flowId, callbackSecretFor(previous, flowId))).toBe(true);
    expect(isCallbackSecretValid(['current-0123456789', previous], flowId, callbackSecretFor('current-0123456789', flowId))).toBe(true);
    expect(isCallbackSecretValid(['current-0123456789', previous], flowId, callbackSecretFor(previous, 'tokenize-other'))).toBe(false);
    expect(isCallbackSecretValid('current-0123456789', flowId, callbackSecretFor(previous, flowId))).toBe(false);
  });

  it('accepts callbacks under the current and the previous secret over HTTP, and refuses others', async () => {
    const flowId = `tokenize-${randomUUID()}`;
    const body = { authorization_token: `auth-${randomUUID()}`, session_id: 'sess-1' };
    const url = (secret: string) => `${stack.apiUrl}/klarna/callbacks/authorization/${flowId}?secret=${encodeURIComponent(secret)}`;
    // No such flow: stored and acknowledged (`no_flow`), which is what a good secret gets.
    const underPrevious = await http('POST', url(callbackSecretFor(previous, flowId)), body);
    expect(underPrevious.status).toBe(200);
    expect(underPrevious.body.delivery).toBe('no_flow');
    expect((await http('POST', url(callbackSecretFor(stack.callbackSecret, flowId)), body)).status).toBe(200);
    const other = await http('POST', url(callbackSecretFor(`other-${randomBytes(8).toString('hex')}`, flowId)), body);
    expect(other.status).toBe(401);
    expect(other.body).toEqual({ error: 'unauthorized', message: 'Wrong or missing callback secret.' });
  });
});
