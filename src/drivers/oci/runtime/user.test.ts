import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePasswd, resolveUser } from './user.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000:app:/home/app:/bin/sh\nbroken:x:notanumber:1\nnobody:x:65534:65534::/nonexistent:/bin/false\n';
const GROUP = 'root:x:0:\nwheel:x:10:app,root\napp:x:1000:\nstaff:x:50:app\nnogroup:x:65534:\n';

test('user: empty is root, with root\'s groups', () => {
  assert.deepEqual(resolveUser('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' });
  assert.deepEqual(resolveUser('', null, null), { uid: 0, gid: 0, additionalGids: [0], home: '/' });
});

test('user: names and numbers, with or without a group, as Docker resolves them', () => {
  assert.deepEqual(resolveUser('app', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 50], home: '/home/app' });
  assert.deepEqual(resolveUser('1000', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 50], home: '/home/app' });
  assert.deepEqual(resolveUser('app:staff', PASSWD, GROUP), { uid: 1000, gid: 50, additionalGids: [50], home: '/home/app' });
  assert.deepEqual(resolveUser('4242', PASSWD, GROUP), { uid: 4242, gid: 0, additionalGids: [0], home: '/' }, 'a uid without an entry is fine');
  assert.deepEqual(resolveUser('4242:4343', null, null), { uid: 4242, gid: 4343, additionalGids: [4343], home: '/' });
  assert.deepEqual(resolveUser('nobody:10', PASSWD, GROUP), { uid: 65534, gid: 10, additionalGids: [10], home: '/nonexistent' });
});

test('user: unknown names are errors with Docker\'s wording; out-of-range ids too', () => {
  assert.throws(() => resolveUser('ghost', PASSWD, GROUP), /unable to find user ghost: no matching entries in passwd file/);
  assert.throws(() => resolveUser('app:ghosts', PASSWD, GROUP), /unable to find group ghosts/);
  assert.throws(() => resolveUser('99999999999', PASSWD, GROUP), /out of range/);
  assert.equal(parsePasswd(PASSWD).length, 3, 'comments and broken lines are skipped');
});
