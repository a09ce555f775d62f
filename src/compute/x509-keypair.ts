/**
 * Generated x509 key pairs (`keypair create --type x509` without a public key, 2.2–2.91): a new
 * RSA key and a self-signed certificate for it, as Nova makes them for WinRM certificate logins
 * (subject CN = the user id, client-authentication usage, ten years). Node's crypto signs but has
 * no certificate builder, so the certificate's DER is written here; only what it needs of DER.
 * @module
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...parts: Buffer[]) => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
/** A positive INTEGER from big-endian bytes (a leading zero keeps the sign bit clear). */
const int = (b: Buffer) => tlv(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const arc of rest) {
    const digits: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      digits.unshift((v & 0x7f) | (digits.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...digits);
  }
  return tlv(0x06, Buffer.from(out));
}
/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const SHA256_WITH_RSA = seq(oid('1.2.840.113549.1.1.11'), tlv(0x05));
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

export interface X509Keypair {
  /** PKCS#1 PEM, as Nova returns private keys. */
  readonly privateKey: string;
  /** The certificate, PEM: the key pair's public key. */
  readonly certificate: string;
  /** The certificate's DER. */
  readonly der: Buffer;
}

export function generateX509Keypair(commonName: string, now: number): X509Keypair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const name = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName)))));
  const serial = randomBytes(16);
  // Positive and minimal in DER: the top bit clear, the first byte not zero (OpenSSL refuses a padded INTEGER).
  serial[0] = (serial[0] & 0x7f) | 0x01;
  const clientAuth = seq(oid('2.5.29.37'), tlv(0x04, seq(oid('1.3.6.1.5.5.7.3.2'))));
  const tbs = seq(
    tlv(0xa0, int(Buffer.from([2]))),
    int(serial),
    SHA256_WITH_RSA,
    name,
    seq(time(new Date(now)), time(new Date(now + TEN_YEARS_MS))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    tlv(0xa3, seq(clientAuth)),
  );
  const der = seq(tbs, SHA256_WITH_RSA, tlv(0x03, Buffer.from([0]), sign('sha256', tbs, privateKey)));
  const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  return { privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), certificate: pem, der };
}
