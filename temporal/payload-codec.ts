import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
// Default import: @temporalio/proto is CommonJS, so named imports fail under plain Node ESM.
import protos from '@temporalio/proto';

// Workflow history is stored by the Temporal server and shown by its UI: every payload in it
// (workflow input with the billing address and e-mail, the shopper's authorization token in the
// signal, activity arguments and results, memo, updates, the result) is encrypted here, in the
// worker and in every client, before it leaves the process. Search attributes are not payloads
// the SDK encodes (the server must read them) and stay plain; they carry no personal data.
//
// An encrypted payload:
//   metadata  encoding                  = binary/encrypted
//             encryption-key-id         = the key's id (the key ring decides which key opens it)
//             encryption-codec-version  = 1
//   data      iv (12 bytes) || AES-256-GCM ciphertext of the serialized original Payload || tag (16 bytes)
// The GCM additional data binds the version and key id, so metadata cannot be swapped.
//
// Payloads without `encoding: binary/encrypted` pass through decode unchanged: histories written
// before this codec stay readable and replayable.

const PayloadProto = protos.temporal.api.common.v1.Payload;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_ENCODING = 'encoding';
export const METADATA_KEY_ID = 'encryption-key-id';
export const METADATA_CODEC_VERSION = 'encryption-codec-version';
/** Bump (and keep decoding the old one) if the layout of `data` ever changes. */
export const CODEC_VERSION = '1';

const IV_BYTES = 12;
const TAG_BYTES = 16;
export const PAYLOAD_KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One key of the ring: an id written into each payload, and 32 bytes of AES-256 key. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

export class PayloadDecryptionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PayloadDecryptionError';
  }
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (bytes: Uint8Array | null | undefined) => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);
const additionalData = (version: string, keyId: string) => Buffer.from(`temporal-payload/${version}/${keyId}`, 'utf8');

/**
 * The payload codec over a key ring: the first key encrypts, every key decrypts. Rotation is
 * adding a new key in front and keeping the old ones for as long as histories written with them
 * are kept (namespace retention) or replayed.
 */
export function createEncryptionCodec(keys: readonly PayloadKey[]): PayloadCodec & { encryptingKeyId: string } {
  if (keys.length === 0) throw new Error('payload codec: the key ring is empty');
  const ring = new Map<string, Buffer>();
  for (const { id, key } of keys) {
    if (!PAYLOAD_KEY_ID.test(id)) throw new Error(`payload codec: key id ${JSON.stringify(id)} must be 1-64 of A-Z a-z 0-9 . _ -`);
    if (key.length !== 32) throw new Error(`payload codec: key ${id} must be 32 bytes`);
    if (ring.has(id)) throw new Error(`payload codec: key id ${id} appears twice`);
    ring.set(id, Buffer.from(key));
  }
  const encryptingKeyId = keys[0]!.id;
  const encryptingKey = ring.get(encryptingKeyId)!;

  function encryptOne(payload: Payload): Payload {
    const plaintext = PayloadProto.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', encryptingKey, iv);
    cipher.setAAD(additionalData(CODEC_VERSION, encryptingKeyId));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: {
        [METADATA_ENCODING]: utf8(ENCRYPTED_ENCODING),
        [METADATA_KEY_ID]: utf8(encryptingKeyId),
        [METADATA_CODEC_VERSION]: utf8(CODEC_VERSION),
      },
      data: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]),
    };
  }

  function decryptOne(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA_ENCODING]) !== ENCRYPTED_ENCODING) return payload;
    const version = text(payload.metadata?.[METADATA_CODEC_VERSION]);
    if (version !== CODEC_VERSION) {
      throw new PayloadDecryptionError(`encrypted payload has codec version ${version ?? '(none)'}; this code reads version ${CODEC_VERSION}`);
    }
    const keyId = text(payload.metadata?.[METADATA_KEY_ID]);
    if (keyId === undefined) throw new PayloadDecryptionError('encrypted payload has no encryption-key-id');
    const key = ring.get(keyId);
    if (!key) {
      throw new PayloadDecryptionError(
        `encrypted payload names key id ${JSON.stringify(keyId)}, which is not in the key ring (PAYLOAD_ENCRYPTION_KEYS has ${[...ring.keys()].join(', ')})`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`encrypted payload (key ${keyId}) is truncated`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(additionalData(version, keyId));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return PayloadProto.decode(plaintext);
    } catch (err) {
      throw new PayloadDecryptionError(`encrypted payload (key ${keyId}) does not decrypt: wrong key or tampered data`, { cause: err });
    }
  }

  return {
    encryptingKeyId,
    async encode(payloads) {
      return payloads.map(encryptOne);
    },
    async decode(payloads) {
      return payloads.map(decryptOne);
    },
  };
}

/** The data converter of every worker and client: default JSON conversion, then encryption. */
export function encryptingDataConverter(codec: PayloadCodec): DataConverter {
  return { payloadCodecs: [codec] };
}

/** A fresh random key ring of one key, for processes whose histories live no longer than they do (tests, benchmarks). */
export function ephemeralPayloadKeys(id = `ephemeral-${randomBytes(4).toString('hex')}`): PayloadKey[] {
  return [{ id, key: randomBytes(32) }];
}

/** `PAYLOAD_ENCRYPTION_KEYS` notation: `id:base64key,id:base64key` (first one encrypts). */
export function formatPayloadKeys(keys: readonly PayloadKey[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
}
