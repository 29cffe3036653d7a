import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config/env.js';
import {
  createEncryptionCodec,
  ENCRYPTED_ENCODING,
  formatPayloadKeys,
  PayloadDecryptionError,
  type PayloadKey,
} from '../../temporal/payload-codec.js';

const key = (id: string): PayloadKey => ({ id, key: randomBytes(32) });
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const secretInput = {
  authorization_token: 'auth-tok-7f3c9e21',
  billing_address: { given_name: 'Gunilla', street_address: 'Sveavägen 44', email: 'gunilla@example.se' },
};
/** Bytes as hex, whatever the Uint8Array flavour (protobufjs decodes to Buffer). */
const comparable = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('hex')])),
  data: Buffer.from(p.data ?? []).toString('hex'),
});
const plainPayloads = (): Payload[] => [
  defaultPayloadConverter.toPayload(secretInput),
  defaultPayloadConverter.toPayload('a string'),
  defaultPayloadConverter.toPayload(undefined), // binary/null: metadata only, no data
  defaultPayloadConverter.toPayload(new Uint8Array([0, 1, 2, 255])), // binary/plain
];

describe('payload codec (AES-256-GCM)', () => {
  it('encrypts every payload under the first key and decrypts it back to the same payload', async () => {
    const codec = createEncryptionCodec([key('k-2025-01')]);
    const originals = plainPayloads();
    const encoded = await codec.encode(originals);
    expect(encoded).toHaveLength(originals.length);
    for (const payload of encoded) {
      expect(text(payload.metadata?.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(text(payload.metadata?.['encryption-key-id'])).toBe('k-2025-01');
      expect(text(payload.metadata?.['encryption-codec-version'])).toBe('1');
      // Nothing of the original is left in the clear: not the value, not its encoding.
      expect(Object.keys(payload.metadata ?? {}).sort()).toEqual(['encoding', 'encryption-codec-version', 'encryption-key-id']);
      for (const secret of ['auth-tok-7f3c9e21', 'Sveavägen', 'gunilla@example.se', 'json/plain']) {
        expect(Buffer.from(payload.data!).includes(secret)).toBe(false);
      }
    }
    const decoded = await codec.decode(encoded);
    expect(decoded.map(comparable)).toEqual(originals.map(comparable));
    expect(defaultPayloadConverter.fromPayload(decoded[0]!)).toEqual(secretInput);
    expect(defaultPayloadConverter.fromPayload(decoded[1]!)).toBe('a string');
    expect(defaultPayloadConverter.fromPayload(decoded[2]!)).toBeUndefined();
    expect(await codec.encode([])).toEqual([]);
  });

  it('uses a fresh IV per payload: the same value encrypts differently each time', async () => {
    const codec = createEncryptionCodec([key('k1')]);
    const [a, b] = await codec.encode([defaultPayloadConverter.toPayload(secretInput), defaultPayloadConverter.toPayload(secretInput)]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('refuses tampered payloads: a flipped bit, a swapped key id, a truncated or unversioned payload', async () => {
    const k1 = key('k1');
    const k2 = key('k2');
    const codec = createEncryptionCodec([k1, k2]);
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload(secretInput)]);

    const flipped = Buffer.from(encoded!.data!);
    flipped[20]! ^= 0x01;
    await expect(codec.decode([{ ...encoded, data: flipped }])).rejects.toThrow(PayloadDecryptionError);
    await expect(codec.decode([{ ...encoded, data: flipped }])).rejects.toThrow(/key k1\) does not decrypt: wrong key or tampered data/);

    // The key id is authenticated data: naming another key of the ring fails, it is not "tried".
    const swapped = { ...encoded, metadata: { ...encoded!.metadata, 'encryption-key-id': new TextEncoder().encode('k2') } };
    await expect(codec.decode([swapped])).rejects.toThrow(/does not decrypt/);

    await expect(codec.decode([{ ...encoded, data: Buffer.from(encoded!.data!).subarray(0, 20) }])).rejects.toThrow(/truncated/);
    const unversioned = { ...encoded, metadata: { ...encoded!.metadata } };
    delete unversioned.metadata['encryption-codec-version'];
    await expect(codec.decode([unversioned])).rejects.toThrow(/codec version \(none\)/);
    const future = { ...encoded, metadata: { ...encoded!.metadata, 'encryption-codec-version': new TextEncoder().encode('2') } };
    await expect(codec.decode([future])).rejects.toThrow(/codec version 2; this code reads version 1/);
  });

  it('fails clearly on a key id that is not in the ring, naming the ids it has', async () => {
    const [encoded] = await createEncryptionCodec([key('gone-key')]).encode([defaultPayloadConverter.toPayload('x')]);
    const other = createEncryptionCodec([key('k-a'), key('k-b')]);
    await expect(other.decode([encoded!])).rejects.toThrow(PayloadDecryptionError);
    await expect(other.decode([encoded!])).rejects.toThrow('names key id "gone-key", which is not in the key ring (PAYLOAD_ENCRYPTION_KEYS has k-a, k-b)');
  });

  it('rotates by adding a key: old payloads still decode, new ones use the new key', async () => {
    const old = key('k-2024');
    const fresh = key('k-2025');
    const before = createEncryptionCodec([old]);
    const written = await before.encode([defaultPayloadConverter.toPayload(secretInput)]);

    const after = createEncryptionCodec([fresh, old]);
    expect(after.encryptingKeyId).toBe('k-2025');
    expect(defaultPayloadConverter.fromPayload((await after.decode(written))[0]!)).toEqual(secretInput);
    const rewritten = await after.encode([defaultPayloadConverter.toPayload(secretInput)]);
    expect(text(rewritten[0]!.metadata?.['encryption-key-id'])).toBe('k-2025');
    // The ring before the rotation cannot read the new payloads: every reader gets the new key first.
    await expect(before.decode(rewritten)).rejects.toThrow(/"k-2025", which is not in the key ring/);
  });

  it('passes payloads that are not encrypted through decode unchanged (histories from before the codec)', async () => {
    const codec = createEncryptionCodec([key('k1')]);
    const plain = plainPayloads();
    const decoded = await codec.decode(plain);
    decoded.forEach((p, i) => expect(p).toBe(plain[i]));
    // Mixed: one old plain payload and one new encrypted payload in the same call.
    const [encrypted] = await codec.encode([defaultPayloadConverter.toPayload('new')]);
    const mixed = await codec.decode([plain[1]!, encrypted!]);
    expect(mixed.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual(['a string', 'new']);
  });

  it('refuses a bad key ring', () => {
    expect(() => createEncryptionCodec([])).toThrow(/empty/);
    expect(() => createEncryptionCodec([{ id: 'k1', key: randomBytes(16) }])).toThrow(/32 bytes/);
    expect(() => createEncryptionCodec([key('k1'), key('k1')])).toThrow(/twice/);
    expect(() => createEncryptionCodec([key('has space')])).toThrow(/key id/);
  });
});

describe('PAYLOAD_ENCRYPTION_KEYS', () => {
  it('parses id:base64key entries, first one first', () => {
    const keys = [key('k-2025'), key('k-2024')];
    const config = loadConfig(['payloadCodec'], { PAYLOAD_ENCRYPTION_KEYS: ` ${formatPayloadKeys(keys)} ` });
    expect(config.payloadCodec.keys.map((k) => k.id)).toEqual(['k-2025', 'k-2024']);
    expect(config.payloadCodec.keys[0]!.key.equals(keys[0]!.key)).toBe(true);
    expect(createEncryptionCodec(config.payloadCodec.keys).encryptingKeyId).toBe('k-2025');
  });

  it('is required and reports each bad entry without echoing key material', () => {
    expect(() => loadConfig(['payloadCodec'], {})).toThrow(/PAYLOAD_ENCRYPTION_KEYS: is required/);
    const good = formatPayloadKeys([key('ok')]);
    const shortKey = randomBytes(16).toString('base64');
    let error: unknown;
    try {
      loadConfig(['payloadCodec'], { PAYLOAD_ENCRYPTION_KEYS: `${good},bad id:${randomBytes(32).toString('base64')},short:${shortKey},${good}` });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual([
      'PAYLOAD_ENCRYPTION_KEYS: entry 2 (<key id>:<base64 key>): key id must be 1-64 of A-Z a-z 0-9 . _ -',
      'PAYLOAD_ENCRYPTION_KEYS: entry 3 (<key id>:<base64 key>): key must be 32 bytes, base64-encoded (openssl rand -base64 32)',
      'PAYLOAD_ENCRYPTION_KEYS: entry 4 (<key id>:<base64 key>): key id ok appears twice',
    ]);
    expect(problems.join('\n')).not.toContain(shortKey);
  });

  it('parses the codec endpoint CORS origins', () => {
    const config = loadConfig(['api'], { CODEC_CORS_ORIGINS: 'http://localhost:8233, https://temporal.example.com' });
    expect(config.api.codecCorsOrigins).toEqual(['http://localhost:8233', 'https://temporal.example.com']);
    expect(loadConfig(['api'], {}).api.codecCorsOrigins).toEqual([]);
    expect(() => loadConfig(['api'], { CODEC_CORS_ORIGINS: 'http://localhost:8233/' })).toThrow(/CODEC_CORS_ORIGINS/);
  });
});
