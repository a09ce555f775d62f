/**
 * The container's user: `user`, `uid`, `user:group`, `uid:gid` (any mix) resolved against the
 * image's /etc/passwd and /etc/group the way Docker does it, including supplementary groups.
 * Parsing is pure; `readUserDatabase` reads the two files from inside the root file system
 * without following a symlink out of it.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { KumoError } from '../../../errors.js';
import { resolveInRoot } from './rootfs-path.js';

export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
  readonly home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const isNumeric = (s: string) => /^[0-9]+$/.test(s);
const MAX_ID = 2 ** 32 - 2;

export function parsePasswd(content: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of content.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4 || !isNumeric(f[2]) || !isNumeric(f[3])) continue;
    out.push({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(content: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of content.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !isNumeric(f[2])) continue;
    out.push({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

function checkId(kind: string, value: string): number {
  const n = Number(value);
  if (n > MAX_ID) throw new KumoError('ERR_BAD_REQUEST', `${kind} ${value} is out of range`);
  return n;
}

/**
 * Resolves `user` (empty: root) with the image's passwd and group contents (null: the file does
 * not exist). A numeric uid or gid needs no entry; a name must have one.
 */
export function resolveUser(user: string, passwd: string | null, group: string | null): ResolvedUser {
  const users = parsePasswd(passwd ?? '');
  const groups = parseGroup(group ?? '');
  const [userPart, groupPart] = user.includes(':') ? [user.slice(0, user.indexOf(':')), user.slice(user.indexOf(':') + 1)] : [user, ''];
  const name = userPart || 'root';

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (isNumeric(name)) {
    uid = checkId('uid', name);
    entry = users.find((u) => u.uid === uid);
  } else {
    entry = users.find((u) => u.name === name);
    if (!entry) {
      if (name !== 'root') throw new KumoError('ERR_BAD_REQUEST', `unable to find user ${name}: no matching entries in passwd file`);
      uid = 0;
    } else {
      uid = entry.uid;
    }
  }

  let gid: number;
  if (!groupPart) {
    gid = entry?.gid ?? 0;
  } else if (isNumeric(groupPart)) {
    gid = checkId('gid', groupPart);
  } else {
    const g = groups.find((x) => x.name === groupPart);
    if (!g) throw new KumoError('ERR_BAD_REQUEST', `unable to find group ${groupPart}: no matching entries in group file`);
    gid = g.gid;
  }

  // The primary group first, then (only when no group was named, as in Docker) the groups that
  // list the user as a member: what containerd hands runc, so `id` shows the same groups.
  const memberName = entry?.name ?? (isNumeric(name) ? null : name);
  const members = !groupPart && memberName ? groups.filter((g) => g.members.includes(memberName)).map((g) => g.gid) : [];
  const additionalGids = [...new Set([gid, ...members])];
  return { uid, gid, additionalGids, home: entry?.home ?? '/' };
}

async function readInRoot(root: string, file: string): Promise<string | null> {
  try {
    return await readFile(await resolveInRoot(root, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}

/** The image's /etc/passwd and /etc/group (null where missing). */
export async function readUserDatabase(root: string): Promise<{ passwd: string | null; group: string | null }> {
  const [passwd, group] = await Promise.all([readInRoot(root, '/etc/passwd'), readInRoot(root, '/etc/group')]);
  return { passwd, group };
}
