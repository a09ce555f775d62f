/**
 * The image config blob (`application/vnd.oci.image.config.v1+json` and Docker's equivalent):
 * the runtime defaults a container inherits, the platform, and the diff ids that unpacked
 * layers are checked against.
 * @module
 */
import { KumoError } from '../../../errors.js';
import type { ImageRuntimeConfig } from '../types.js';
import { parseDigest } from './digest.js';

export interface ParsedImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant: string | null;
  readonly createdAt: string | null;
  readonly config: ImageRuntimeConfig;
  /** sha256 of each uncompressed layer tar, bottom first. */
  readonly diffIds: readonly string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : null);

export function parseImageConfig(body: Uint8Array, what: string): ParsedImageConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    throw new KumoError('ERR_VALIDATION', `${what}: the image config is not JSON`);
  }
  if (!isObject(doc)) throw new KumoError('ERR_VALIDATION', `${what}: the image config is not a JSON object`);
  const rootfs = isObject(doc.rootfs) ? doc.rootfs : {};
  const diffIds = strings(rootfs.diff_ids);
  if (!diffIds) throw new KumoError('ERR_VALIDATION', `${what}: the image config has no rootfs.diff_ids`);
  const c = isObject(doc.config) ? doc.config : {};
  const labels: Record<string, string> = {};
  if (isObject(c.Labels)) for (const [k, v] of Object.entries(c.Labels)) if (typeof v === 'string') labels[k] = v;
  return {
    architecture: typeof doc.architecture === 'string' ? doc.architecture : '',
    os: typeof doc.os === 'string' ? doc.os : '',
    variant: typeof doc.variant === 'string' ? doc.variant : null,
    createdAt: typeof doc.created === 'string' ? doc.created : null,
    diffIds: diffIds.map((d, i) => parseDigest(d, `${what}: rootfs.diff_ids[${i}]`)),
    config: {
      entrypoint: strings(c.Entrypoint),
      cmd: strings(c.Cmd),
      env: strings(c.Env) ?? [],
      workingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : '',
      user: typeof c.User === 'string' ? c.User : '',
      exposedPorts: isObject(c.ExposedPorts) ? Object.keys(c.ExposedPorts).sort() : [],
      labels,
      stopSignal: typeof c.StopSignal === 'string' && c.StopSignal !== '' ? c.StopSignal : null,
    },
  };
}
