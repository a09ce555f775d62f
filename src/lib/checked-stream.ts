/**
 * Writes an image's bytes, as they stream in, to a file: sparse (4 KiB blocks of zeroes are left
 * as holes, so a raw image full of zeroes costs no disk), hashed on the way, and checked against
 * the size and digest its owner recorded. Nothing is read whole into memory.
 * @module
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { KumoError } from '../errors.js';

export interface StreamCheck {
  /** Expected length in bytes. */
  readonly sizeBytes?: number;
  /** Expected digest of the content (Glance's os_hash_algo/os_hash_value, or its md5 checksum). */
  readonly hash?: { readonly algorithm: 'md5' | 'sha256' | 'sha512'; readonly hex: string };
}

const BLOCK = 4096;
/** Bytes gathered before they are written: a few large writes instead of one per network chunk. */
const STAGE = 1024 * 1024;

/**
 * Creates (or truncates) `file` with the stream's bytes and resolves with their count.
 * ERR_BAD_REQUEST when the size or digest differs from `check`, or the stream passes `limitBytes`
 * (then it is not read further). On any failure the partial file is left for the caller, who
 * owns its name, to remove.
 */
export async function writeCheckedStream(
  file: string, source: AsyncIterable<Uint8Array>, check: StreamCheck, what: string, options: { readonly limitBytes?: number } = {},
): Promise<number> {
  const hash = check.hash ? createHash(check.hash.algorithm) : null;
  const limit = Math.min(check.sizeBytes ?? Infinity, options.limitBytes ?? Infinity);
  const handle = await open(file, 'w', 0o644);
  const stage = Buffer.alloc(STAGE);
  const zero = Buffer.alloc(BLOCK);
  let staged = 0;
  /** File offset of stage[0]. */
  let base = 0;
  let size = 0;
  const writeAt = async (from: number, to: number) => {
    for (let at = from; at < to;) at += (await handle.write(stage, at, to - at, base + at)).bytesWritten;
  };
  /** Writes the staged bytes but holes: each run of blocks that are not all zeroes in one write. */
  const flush = async () => {
    let runStart = -1;
    for (let at = 0; at < staged; at += BLOCK) {
      const end = Math.min(at + BLOCK, staged);
      const isData = !stage.subarray(at, end).equals(zero.subarray(0, end - at));
      if (isData && runStart < 0) runStart = at;
      else if (!isData && runStart >= 0) {
        await writeAt(runStart, at);
        runStart = -1;
      }
    }
    if (runStart >= 0) await writeAt(runStart, staged);
    base += staged;
    staged = 0;
  };
  try {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > limit) {
        throw new KumoError('ERR_BAD_REQUEST', check.sizeBytes !== undefined && size > check.sizeBytes
          ? `${what}: more than the expected ${check.sizeBytes} bytes`
          : `${what}: larger than ${options.limitBytes} bytes`);
      }
      hash?.update(chunk);
      for (let taken = 0; taken < chunk.length;) {
        const n = Math.min(chunk.length - taken, STAGE - staged);
        stage.set(chunk.subarray(taken, taken + n), staged);
        staged += n;
        taken += n;
        if (staged === STAGE) await flush();
      }
    }
    await flush();
    // Trailing holes are not written: the length makes them.
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
  if (check.sizeBytes !== undefined && size !== check.sizeBytes) throw new KumoError('ERR_BAD_REQUEST', `${what}: got ${size} bytes, expected ${check.sizeBytes}`);
  if (hash && check.hash && hash.digest('hex') !== check.hash.hex.toLowerCase()) throw new KumoError('ERR_BAD_REQUEST', `${what}: ${check.hash.algorithm} digest does not match`);
  return size;
}
