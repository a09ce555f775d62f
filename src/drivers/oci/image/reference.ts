/**
 * Image references as Docker reads them: `[registry/]repository[:tag][@digest]`, where a first
 * component is a registry only if it has a `.` or a `:` or is `localhost`, no registry means
 * Docker Hub (`docker.io`), and a one-component Hub repository lives under `library/`.
 * @module
 */
import { KumoError } from '../../../errors.js';
import { isDigest } from './digest.js';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's distribution API actually answers. */
const DOCKER_HUB_API = 'registry-1.docker.io';
export const DEFAULT_TAG = 'latest';

export interface ImageReference {
  /** `host[:port]`, `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Path components, e.g. `library/busybox`. */
  readonly repository: string;
  /** `latest` when neither tag nor digest was given; null for a reference by digest alone. */
  readonly tag: string | null;
  readonly digest: string | null;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const MAX_NAME = 255;

function invalid(reference: string, why: string): KumoError {
  return new KumoError('ERR_VALIDATION', `invalid image reference ${JSON.stringify(reference)}: ${why}`);
}

export function parseReference(reference: string): ImageReference {
  if (typeof reference !== 'string' || reference.length === 0) throw invalid(String(reference), 'empty');
  if (reference !== reference.trim()) throw invalid(reference, 'leading or trailing white space');
  let rest = reference;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw invalid(reference, `${JSON.stringify(digest)} is not a sha256 digest`);
  }
  let tag: string | null = null;
  // A colon after the last slash is a tag; one before it belongs to a registry port.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(reference, `${JSON.stringify(tag)} is not a valid tag`);
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf('/');
  if (slash > 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!HOST.test(first)) throw invalid(reference, `${JSON.stringify(first)} is not a valid registry host`);
      registry = first === 'index.docker.io' ? DOCKER_HUB : first.toLowerCase();
      rest = rest.slice(slash + 1);
    }
  }
  if (rest.length === 0) throw invalid(reference, 'no repository name');
  const components = rest.split('/');
  for (const c of components) {
    if (!COMPONENT.test(c)) {
      throw invalid(reference, `repository name component ${JSON.stringify(c)} must be lower-case letters, digits and separators (. _ __ -)`);
    }
  }
  let repository = rest;
  if (registry === DOCKER_HUB && components.length === 1) repository = `library/${rest}`;
  if (registry.length + 1 + repository.length > MAX_NAME) throw invalid(reference, `name longer than ${MAX_NAME} characters`);
  if (tag === null && digest === null) tag = DEFAULT_TAG;
  return { registry, repository, tag, digest };
}

/** `registry/repository` */
export const repositoryName = (ref: ImageReference) => `${ref.registry}/${ref.repository}`;

/** The normalised name an image is recorded under: `registry/repository:tag`, or `...@digest` without a tag. */
export function referenceName(ref: ImageReference): string {
  return ref.tag !== null ? `${repositoryName(ref)}:${ref.tag}` : `${repositoryName(ref)}@${ref.digest}`;
}

/** How users wrote it, for messages: `busybox:latest` rather than `docker.io/library/busybox:latest`. */
export function familiarName(ref: ImageReference): string {
  const repo = ref.registry === DOCKER_HUB && ref.repository.startsWith('library/') ? ref.repository.slice('library/'.length) : ref.repository;
  return `${repo}${ref.tag !== null ? `:${ref.tag}` : ''}${ref.digest !== null ? `@${ref.digest}` : ''}`;
}

/** The host the distribution API is reached at. */
export function registryHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

function hostOnly(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const colon = hostPort.lastIndexOf(':');
  return colon >= 0 ? hostPort.slice(0, colon) : hostPort;
}

export function isLoopbackRegistry(registry: string): boolean {
  const host = hostOnly(registry).toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `https://host` unless the registry is on loopback or listed as insecure, which are spoken to over plain http. */
export function registryBaseUrl(registry: string, insecureRegistries: readonly string[]): string {
  const host = registryHost(registry);
  const plain = isLoopbackRegistry(registry) || insecureRegistries.some((r) => r.toLowerCase() === registry);
  return `${plain ? 'http' : 'https'}://${host}`;
}
