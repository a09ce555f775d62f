/**
 * Neutron's list semantics over rendered resources: attribute filters (repeatable, OR'ed),
 * tag filters, sort_key/sort_dir, limit/marker with `<resource>_links`, and `fields=`.
 * @module
 */
import { badInput } from './context.js';

export type Query = Record<string, string | string[] | undefined>;
const CONTROL = new Set(['fields', 'limit', 'marker', 'page_reverse', 'sort_key', 'sort_dir', 'tags', 'tags-any', 'not-tags', 'not-tags-any']);

const values = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function matches(actual: unknown, wanted: string[]): boolean {
  if (Array.isArray(actual)) return wanted.some((w) => actual.map(String).includes(w));
  if (typeof actual === 'boolean') {
    return wanted.some((w) => {
      const v = w.toLowerCase();
      return (v === 'true' || v === '1') ? actual : (v === 'false' || v === '0') ? !actual : false;
    });
  }
  return wanted.some((w) => String(actual ?? '') === w);
}

export interface ListResult {
  items: Record<string, unknown>[];
  links: { rel: string; href: string }[];
}

export function applyListQuery(items: Record<string, unknown>[], q: Query, selfUrl: string): ListResult {
  let out = items.filter((item) =>
    Object.entries(q).every(([key, v]) => CONTROL.has(key) || !(key in item) || matches(item[key], values(v))),
  );
  const tagsOf = (i: Record<string, unknown>) => (Array.isArray(i.tags) ? (i.tags as string[]) : []);
  const csv = (key: string) => values(q[key]).flatMap((v) => v.split(',')).filter(Boolean);
  if (q.tags) out = out.filter((i) => csv('tags').every((t) => tagsOf(i).includes(t)));
  if (q['tags-any']) out = out.filter((i) => csv('tags-any').some((t) => tagsOf(i).includes(t)));
  if (q['not-tags']) out = out.filter((i) => !csv('not-tags').every((t) => tagsOf(i).includes(t)));
  if (q['not-tags-any']) out = out.filter((i) => !csv('not-tags-any').some((t) => tagsOf(i).includes(t)));

  const sortKeys = values(q.sort_key);
  const sortDirs = values(q.sort_dir);
  const keys = sortKeys.length ? sortKeys : ['id'];
  out.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const dir = (sortDirs[i] ?? 'asc') === 'desc' ? -1 : 1;
      const x = String(a[keys[i]] ?? '');
      const y = String(b[keys[i]] ?? '');
      if (x !== y) return x < y ? -dir : dir;
    }
    return 0;
  });

  const links: { rel: string; href: string }[] = [];
  const limitText = values(q.limit).at(-1);
  if (limitText !== undefined) {
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 0) throw badInput(`limit must be a non-negative integer, got '${limitText}'.`);
    const marker = values(q.marker).at(-1);
    let start = 0;
    if (marker !== undefined) {
      const at = out.findIndex((i) => i.id === marker);
      if (at < 0) throw badInput(`marker ${marker} does not exist.`);
      start = at + 1;
    }
    const page = limit === 0 ? out.slice(start) : out.slice(start, start + limit);
    if (limit > 0 && start + limit < out.length && page.length) {
      const next = new URL(selfUrl);
      next.searchParams.set('limit', String(limit));
      next.searchParams.set('marker', String(page[page.length - 1].id));
      links.push({ rel: 'next', href: next.toString() });
    }
    if (marker !== undefined && page.length) {
      const prev = new URL(selfUrl);
      prev.searchParams.set('marker', String(page[0].id));
      prev.searchParams.set('page_reverse', 'True');
      links.push({ rel: 'previous', href: prev.toString() });
    }
    out = page;
  }
  const fields = values(q.fields);
  if (fields.length) out = out.map((i) => Object.fromEntries(fields.filter((f) => f in i).map((f) => [f, i[f]])));
  return { items: out, links };
}
