/**
 * Fernet (https://github.com/fernet/spec): AES-128-CBC with PKCS7 padding, authenticated by
 * HMAC-SHA256 over version ‖ timestamp ‖ IV ‖ ciphertext. Small and tested against the spec's
 * published vectors, so it is written here rather than taken from a package.
 * @module
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const HEADER_LEN = 1 + 8 + 16;
const HMAC_LEN = 32;
/** Tokens stamped further than this in the future are refused, as the spec says. */
const MAX_CLOCK_SKEW_SECONDS = 60;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

export class FernetKey {
  readonly signingKey: Buffer;
  readonly encryptionKey: Buffer;

  constructor(readonly encoded: string) {
    const raw = decodeBase64Url(encoded.trim());
    if (!raw || raw.length !== 32) throw new Error('a fernet key is 32 bytes of url-safe base64');
    this.signingKey = raw.subarray(0, 16);
    this.encryptionKey = raw.subarray(16);
  }

  static generate(): FernetKey {
    return new FernetKey(randomBytes(32).toString('base64url') + '=');
  }
}

export interface EncryptOptions {
  /** Seconds since the epoch; the token's timestamp. */
  nowSeconds: number;
  /** For test vectors only: a fixed IV. */
  iv?: Buffer;
}

/** Returns the token in url-safe base64 without padding (Keystone strips it too). */
export function fernetEncrypt(key: FernetKey, plaintext: Buffer, options: EncryptOptions): string {
  const iv = options.iv ?? randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', key.encryptionKey, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const header = Buffer.alloc(HEADER_LEN);
  header[0] = VERSION;
  header.writeBigUInt64BE(BigInt(Math.floor(options.nowSeconds)), 1);
  iv.copy(header, 9);
  const signed = Buffer.concat([header, ciphertext]);
  const mac = createHmac('sha256', key.signingKey).update(signed).digest();
  return Buffer.concat([signed, mac]).toString('base64url');
}

export interface DecryptOptions {
  nowSeconds: number;
  /** Refuse tokens older than this; omit to skip the age check (Keystone checks expiry itself). */
  ttlSeconds?: number;
}

export interface Decrypted {
  plaintext: Buffer;
  /** The token's creation time in seconds since the epoch. */
  timestamp: number;
}

/**
 * Tries each key in turn (primary first is fastest). Returns undefined for any invalid,
 * tampered, expired or future-dated token: callers must not learn why.
 */
export function fernetDecrypt(keys: readonly FernetKey[], token: string, options: DecryptOptions): Decrypted | undefined {
  const raw = decodeBase64Url(token);
  if (!raw || raw.length < HEADER_LEN + 16 + HMAC_LEN || raw[0] !== VERSION) return undefined;
  if ((raw.length - HEADER_LEN - HMAC_LEN) % 16 !== 0) return undefined;
  const timestamp = Number(raw.readBigUInt64BE(1));
  if (timestamp > options.nowSeconds + MAX_CLOCK_SKEW_SECONDS) return undefined;
  if (options.ttlSeconds !== undefined && timestamp + options.ttlSeconds < options.nowSeconds) return undefined;
  const signed = raw.subarray(0, raw.length - HMAC_LEN);
  const mac = raw.subarray(raw.length - HMAC_LEN);
  for (const key of keys) {
    const expected = createHmac('sha256', key.signingKey).update(signed).digest();
    if (!timingSafeEqual(expected, mac)) continue;
    try {
      const decipher = createDecipheriv('aes-128-cbc', key.encryptionKey, raw.subarray(9, 25));
      const plaintext = Buffer.concat([decipher.update(raw.subarray(HEADER_LEN, raw.length - HMAC_LEN)), decipher.final()]);
      return { plaintext, timestamp };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function decodeBase64Url(value: string): Buffer | undefined {
  if (!BASE64URL.test(value)) return undefined;
  const body = value.replace(/=+$/, '');
  const padding = value.length - body.length;
  if (body.length % 4 === 1) return undefined;
  if (padding > 0 && (body.length + padding) % 4 !== 0) return undefined;
  return Buffer.from(body, 'base64url');
}
