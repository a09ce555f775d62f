/**
 * Compiled seccomp filters reused across containers under crun.
 *
 * crun compiles a config's seccomp section with libseccomp on every create: Docker's profile takes
 * about 9 ms of the 20 ms a `crun run -d` + `delete` costs on the 2-core host, and Debian's crun is
 * built without the checksum its own filter cache needs. crun leaves the filter it loaded in its
 * state directory (`<root>/<id>/seccomp.bpf`) and accepts a ready one, base64 in the
 * `run.oci.seccomp_bpf_data` annotation, in place of compiling the section. So the first container
 * of a profile pays for the compile and the rest load its filter (11 ms per container measured).
 *
 * The filter depends on the profile, the kernel and the runtime's libseccomp, so entries live as
 * long as the runtime object does and are keyed by the profile's bytes.
 * @module
 */
import { createHash } from 'node:crypto';

/** crun's annotation for a precompiled filter: the raw `struct sock_filter` array, base64. */
export const SECCOMP_BPF_ANNOTATION = 'run.oci.seccomp_bpf_data';

/** The file in crun's per-container state directory holding the filter it loaded. */
export const CRUN_SECCOMP_FILE = 'seccomp.bpf';

/** The kernel's limit on one classic BPF program (BPF_MAXINSNS), each instruction 8 bytes. */
const MAX_FILTER_BYTES = 4096 * 8;

/** A profile is remembered by the hash of its JSON, so equal sections share a filter. */
export function seccompProfileKey(seccomp: unknown): string {
  return createHash('sha256').update(JSON.stringify(seccomp)).digest('hex');
}

/** Whether `data` can be a classic BPF program: whole 8-byte instructions, at least one, within the kernel's limit. */
export function isSeccompFilter(data: Uint8Array): boolean {
  return data.length > 0 && data.length % 8 === 0 && data.length <= MAX_FILTER_BYTES;
}

export interface SeccompFilterCache {
  /** The base64 filter for the profile, when one was learnt. */
  lookup(seccomp: unknown): string | null;
  /** Remembers the filter a runtime compiled for the profile; returns false (remembering nothing) if it cannot be one. */
  learn(seccomp: unknown, filter: Uint8Array): boolean;
}

/** Containers rarely carry more than a handful of profiles; the bound only stops a caller from growing it without end. */
export function createSeccompFilterCache(maxProfiles = 16): SeccompFilterCache {
  const filters = new Map<string, string>();
  return {
    lookup(seccomp) {
      return filters.get(seccompProfileKey(seccomp)) ?? null;
    },
    learn(seccomp, filter) {
      if (!isSeccompFilter(filter)) return false;
      const key = seccompProfileKey(seccomp);
      if (!filters.has(key) && filters.size >= maxProfiles) filters.delete(filters.keys().next().value as string);
      filters.set(key, Buffer.from(filter).toString('base64'));
      return true;
    },
  };
}
