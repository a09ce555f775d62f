import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KumoError, type KumoErrorCode } from '../../../errors.js';
import { createCommandRunner, type CommandRunner } from '../../../lib/command-runner.js';
import { createSilentLogger } from '../../../log.js';
import type { BlockStorage, ImageContent } from '../types.js';
import { createFileBlockStorage } from './driver.js';

const MIB = 1024 * 1024;
const code = (c: KumoErrorCode, m?: RegExp) => (err: unknown) => err instanceof KumoError && err.code === c && (!m || m.test(err.message));

/**
 * The host as the driver sees it, in memory: loop devices (as files of a fake /sys/block), the
 * mount table, which backing file has a filesystem. cp and qemu-img run for real.
 */
function fakeHost(sys: string) {
  const real = createCommandRunner();
  const mounts: { dir: string; dev: string; fsType: string; ro: boolean }[] = [];
  const filesystems = new Map<string, string>();
  const calls: string[][] = [];
  /** qemu-img's argv (it runs for real). */
  const qemuImg: string[][] = [];
  const fail = new Set<string>();
  const backing = async (dev: string) => readFile(path.join(sys, path.basename(dev), 'loop', 'backing_file'), 'utf8').then((s) => s.trim());
  const ok = (stdout = '') => ({ code: 0, stdout, stderr: '' });
  const runner: CommandRunner = {
    async run(argv, options) {
      const tool = path.basename(argv[0]);
      if (tool === 'qemu-img') qemuImg.push(argv.slice(1));
      if (tool === 'cp' || tool === 'qemu-img') return real.run(argv, options);
      calls.push([tool, ...argv.slice(1)]);
      if (fail.has(tool)) return { code: 32, stdout: '', stderr: `${tool}: simulated failure` };
      const last = argv[argv.length - 1];
      switch (tool) {
        case 'losetup': {
          if (argv.includes('--find')) {
            let n = 0;
            while (existsSync(path.join(sys, `loop${n}`, 'loop'))) n++;
            await mkdir(path.join(sys, `loop${n}`, 'loop'), { recursive: true });
            await writeFile(path.join(sys, `loop${n}`, 'loop', 'backing_file'), `${last}\n`);
            await writeFile(path.join(sys, `loop${n}`, 'ro'), argv.includes('--read-only') ? '1\n' : '0\n');
            return ok(`/dev/loop${n}\n`);
          }
          if (argv.includes('--detach')) await rm(path.join(sys, path.basename(last), 'loop'), { recursive: true });
          return ok();
        }
        case 'blkid': {
          const fsType = filesystems.get(await backing(last));
          return fsType ? ok(`DEVNAME=${last}\nTYPE=${fsType}\nUSAGE=filesystem\n`) : { code: 2, stdout: '', stderr: '' };
        }
        case 'mkfs.ext4':
          filesystems.set(await backing(last), 'ext4');
          return ok();
        case 'mount':
          mounts.push({ dev: argv[argv.length - 2], dir: last, fsType: argv[2], ro: argv[4].startsWith('ro') });
          return ok();
        case 'umount': {
          const at = mounts.findIndex((m) => m.dir === last);
          if (at < 0) return { code: 32, stdout: '', stderr: `umount: ${last}: not mounted.` };
          mounts.splice(at, 1);
          return ok();
        }
        default:
          return ok();
      }
    },
  };
  const mountInfo = async () => mounts.map((m, i) => `${100 + i} 1 7:${i} / ${m.dir} ${m.ro ? 'ro' : 'rw'} - ${m.fsType} ${m.dev} rw`).join('\n');
  const loopCount = async () => (await readdir(sys)).filter((n) => existsSync(path.join(sys, n, 'loop'))).length;
  return { runner, mountInfo, mounts, calls, qemuImg, fail, filesystems, loopCount };
}

async function withDriver(fn: (ctx: { dir: string; block: BlockStorage; host: ReturnType<typeof fakeHost>; again: () => BlockStorage }) => Promise<void>, onlineResize = true, directIo?: boolean) {
  const dir = await mkdtemp(path.join(tmpdir(), 'kumo-block-'));
  const sys = path.join(dir, 'sys');
  await mkdir(sys);
  const host = fakeHost(sys);
  const again = () => createFileBlockStorage({ stateDir: path.join(dir, 'state') }, createSilentLogger(), { run: host.runner, sysBlockDir: sys, readMountInfo: host.mountInfo, onlineResize, directIo });
  try {
    await fn({ dir: path.join(dir, 'state'), block: again(), host, again });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function streamed(data: Buffer, check: ImageContent['check'], format: 'raw' | 'qcow2' = 'raw'): ImageContent {
  return {
    imageId: 'img1', format, localPath: null, check,
    async* open() {
      for (let at = 0; at < data.length; at += 100_000) yield data.subarray(at, at + 100_000);
    },
  };
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('bad ids, sizes and sources are refused before anything is made', async () => {
  await withDriver(async ({ dir, block }) => {
    await assert.rejects(block.createVolume('../x', MIB), code('ERR_VALIDATION', /volume id/));
    await assert.rejects(block.createVolume('v1', 0), code('ERR_VALIDATION', /size/));
    await assert.rejects(block.createVolume('v1', 1000), code('ERR_VALIDATION', /512-byte sectors/));
    await assert.rejects(block.createVolume('v1', MIB, { kind: 'volume', volumeId: 'a/b' }), code('ERR_VALIDATION', /source volume id/));
    await assert.rejects(block.createVolume('v1', MIB, { kind: 'image', image: { ...streamed(Buffer.alloc(0), {}), format: 'vmdk' as 'raw' } }), code('ERR_VALIDATION', /format/));
    await assert.rejects(block.mountForContainer('a.1', 'v1'), code('ERR_VALIDATION', /attachment id/));
    await assert.rejects(block.exportVolume('v1', 'vmdk' as 'raw', '/tmp/x'), code('ERR_VALIDATION', /export format/));
    assert.equal(existsSync(dir), false);
  });
});

test('a qcow2 image is converted past the page cache where the volume dir takes O_DIRECT, through it where not: the same volume; its qemu-img info is read once', async () => {
  const data = Buffer.alloc(4 * MIB);
  data.write('kumo direct io', 3 * MIB);
  for (const directIo of [undefined, false]) {
    await withDriver(async ({ block, host }) => {
      const src = await mkdtemp(path.join(tmpdir(), 'kumo-block-img-'));
      try {
        await writeFile(path.join(src, 'i.raw'), data);
        const made = await createCommandRunner().run(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', path.join(src, 'i.raw'), path.join(src, 'i.qcow2')]);
        assert.equal(made.code, 0, made.stderr);
        const v = await block.createVolume('v1', 8 * MIB, { kind: 'image', image: { ...streamed(Buffer.alloc(0), {}, 'qcow2'), localPath: path.join(src, 'i.qcow2') } });
        const convert = host.qemuImg.find((a) => a[0] === 'convert');
        // The default probes the test's tmpdir, a disk filesystem that takes O_DIRECT.
        assert.equal(convert?.join(' ').includes('-t none'), directIo === undefined, JSON.stringify(convert));
        const content = await readFile(v.path);
        assert.equal(content.length, 8 * MIB);
        assert.ok(content.subarray(0, 4 * MIB).equals(data));
        assert.ok(content.subarray(4 * MIB).equals(Buffer.alloc(4 * MIB)));
        // A second volume of the same image: its qemu-img info is known already.
        assert.ok((await readFile((await block.createVolume('v2', 8 * MIB, { kind: 'image', image: { ...streamed(Buffer.alloc(0), {}, 'qcow2'), localPath: path.join(src, 'i.qcow2') } })).path)).equals(content));
        assert.equal(host.qemuImg.filter((a) => a[0] === 'info').length, 1);
      } finally {
        await rm(src, { recursive: true, force: true });
      }
    }, true, directIo);
  }
});

test('an empty volume is a sparse file; create is idempotent for the same size; extend grows, shrink is refused; delete removes', async () => {
  await withDriver(async ({ block }) => {
    const v = await block.createVolume('v1', 64 * MIB);
    assert.equal(v.sizeBytes, 64 * MIB);
    assert.ok(v.allocatedBytes < MIB, `allocated ${v.allocatedBytes}`);
    assert.deepEqual(await block.createVolume('v1', 64 * MIB), v);
    await assert.rejects(block.createVolume('v1', 32 * MIB), code('ERR_CONFLICT', /already has a file/));
    assert.deepEqual(await block.volume('v1'), v);
    assert.equal(await block.volume('v2'), null);
    assert.equal((await block.extendVolume('v1', 128 * MIB)).sizeBytes, 128 * MIB);
    await assert.rejects(block.extendVolume('v1', 64 * MIB), code('ERR_CONFLICT', /cannot shrink/));
    assert.equal((await stat(v.path)).size, 128 * MIB);
    await assert.rejects(block.extendVolume('v2', 64 * MIB), code('ERR_NOT_FOUND'));
    assert.deepEqual(await block.list(), { volumeIds: ['v1'], snapshotIds: [] });
    await block.deleteVolume('v1');
    await block.deleteVolume('v1');
    assert.deepEqual(await block.list(), { volumeIds: [], snapshotIds: [] });
  });
});

test('a streamed raw image: its bytes, sparse, grown to the size; a bad digest or an image larger than the volume leaves nothing', async () => {
  await withDriver(async ({ dir, block }) => {
    const data = Buffer.alloc(3 * MIB);
    data.write('kumo-block-test', MIB);
    const v = await block.createVolume('v1', 8 * MIB, { kind: 'image', image: streamed(data, { sizeBytes: data.length, hash: { algorithm: 'sha256', hex: sha256(data) } }) });
    assert.equal(v.sizeBytes, 8 * MIB);
    assert.ok(v.allocatedBytes < MIB, `allocated ${v.allocatedBytes}`);
    const content = await readFile(v.path);
    assert.ok(content.subarray(0, data.length).equals(data) && content.subarray(data.length).every((b) => b === 0));
    await assert.rejects(block.createVolume('v2', 8 * MIB, { kind: 'image', image: streamed(data, { hash: { algorithm: 'sha256', hex: sha256(Buffer.from('x')) } }) }), code('ERR_BAD_REQUEST', /digest/));
    await assert.rejects(block.createVolume('v3', 2 * MIB, { kind: 'image', image: streamed(data, {}) }), code('ERR_BAD_REQUEST'));
    assert.deepEqual(await block.list(), { volumeIds: ['v1'], snapshotIds: [] });
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
  });
});

test('from a volume and from a snapshot: equal content; a smaller size or a missing source is refused', async () => {
  await withDriver(async ({ block }) => {
    const data = Buffer.alloc(2 * MIB, 0);
    data.write('hello', 4096);
    const v1 = await block.createVolume('v1', 4 * MIB, { kind: 'image', image: streamed(data, {}) });
    const s1 = await block.createSnapshot('s1', 'v1');
    assert.deepEqual(await block.createSnapshot('s1', 'v1'), s1);
    assert.equal(s1.sizeBytes, 4 * MIB);
    const v2 = await block.createVolume('v2', 4 * MIB, { kind: 'volume', volumeId: 'v1' });
    const v3 = await block.createVolume('v3', 6 * MIB, { kind: 'snapshot', snapshotId: 's1' });
    const original = await readFile(v1.path);
    assert.ok((await readFile(v2.path)).equals(original));
    assert.ok((await readFile(v3.path)).subarray(0, 4 * MIB).equals(original));
    assert.equal(v3.sizeBytes, 6 * MIB);
    await assert.rejects(block.createVolume('v4', 2 * MIB, { kind: 'volume', volumeId: 'v1' }), code('ERR_BAD_REQUEST', /more than the volume's/));
    await assert.rejects(block.createVolume('v4', 4 * MIB, { kind: 'snapshot', snapshotId: 'nope' }), code('ERR_NOT_FOUND'));
    await assert.rejects(block.createSnapshot('s2', 'nope'), code('ERR_NOT_FOUND'));
    assert.deepEqual(await block.list(), { volumeIds: ['v1', 'v2', 'v3'], snapshotIds: ['s1'] });
    await block.deleteSnapshot('s1');
    assert.deepEqual((await block.list()).snapshotIds, []);
  });
});

test('removeTemporaryFiles clears what an interrupted operation left', async () => {
  await withDriver(async ({ dir, block }) => {
    await block.createVolume('v1', MIB);
    await writeFile(path.join(dir, 'tmp', 'volume-v9.raw.abcd'), 'partial');
    await block.removeTemporaryFiles();
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
    assert.deepEqual((await block.list()).volumeIds, ['v1']);
  });
});

test('container mounts: mkfs the first time, conflicts, online extend, unmount releases everything', async () => {
  await withDriver(async ({ dir, block, host }) => {
    await block.createVolume('v1', 64 * MIB);
    await assert.rejects(block.mountForContainer('a1', 'nope'), code('ERR_NOT_FOUND'));
    await assert.rejects(block.mountForContainer('a0', 'v1', { readOnly: true }), code('ERR_CONFLICT', /first mount must be read-write/));
    assert.equal(await host.loopCount(), 0);
    const m = await block.mountForContainer('a1', 'v1');
    assert.deepEqual(m, { attachmentId: 'a1', volumeId: 'v1', hostPath: path.join(dir, 'mounts', 'a1'), loopDevice: '/dev/loop0', readOnly: false });
    assert.ok(host.calls.some((c) => c[0] === 'mkfs.ext4'));
    assert.deepEqual(await block.mountForContainer('a1', 'v1'), m);
    await assert.rejects(block.mountForContainer('a1', 'v1', { readOnly: true }), code('ERR_CONFLICT', /already mounts/));
    await assert.rejects(block.mountForContainer('a2', 'v1'), code('ERR_CONFLICT', /mounted read-write for attachment a1/));
    await assert.rejects(block.mountForContainer('a2', 'v1', { readOnly: true }), code('ERR_CONFLICT'));
    await assert.rejects(block.deleteVolume('v1'), code('ERR_CONFLICT', /mounted for attachment a1/));
    host.calls.length = 0;
    await block.extendVolume('v1', 128 * MIB);
    assert.deepEqual(host.calls, [['losetup', '--set-capacity', '/dev/loop0'], ['resize2fs', '/dev/loop0']]);
    assert.deepEqual(await block.listContainerMounts(), [m]);
    await block.unmountForContainer('a1');
    await block.unmountForContainer('a1');
    assert.equal(await host.loopCount(), 0);
    assert.deepEqual(host.mounts, []);
    assert.deepEqual(await readdir(path.join(dir, 'mounts')), []);
    // Mounted again: the filesystem is there, no mkfs; read-only mounts may share the volume.
    host.calls.length = 0;
    const r1 = await block.mountForContainer('a3', 'v1', { readOnly: true });
    const r2 = await block.mountForContainer('a4', 'v1', { readOnly: true });
    assert.ok(r1.readOnly && r2.readOnly && r1.loopDevice !== r2.loopDevice);
    assert.ok(!host.calls.some((c) => c[0] === 'mkfs.ext4'));
    await assert.rejects(block.mountForContainer('a5', 'v1'), code('ERR_CONFLICT', /mounted read-only/));
    await block.unmountForContainer('a3');
    await block.unmountForContainer('a4');
    assert.equal(await host.loopCount(), 0);
  });
});

test('a host that cannot grow a mounted filesystem: extend of a volume mounted read-write is refused and changes nothing; the next mount grows it', async () => {
  await withDriver(async ({ block, host }) => {
    const v = await block.createVolume('v1', 64 * MIB);
    await block.mountForContainer('a1', 'v1');
    await assert.rejects(block.extendVolume('v1', 128 * MIB), code('ERR_CONFLICT', /cannot grow a mounted filesystem/));
    assert.equal((await stat(v.path)).size, 64 * MIB);
    await block.unmountForContainer('a1');
    // Read-only mounts do not hold an extend back: their filesystem is not grown while they have it.
    await block.mountForContainer('r1', 'v1', { readOnly: true });
    host.calls.length = 0;
    assert.equal((await block.extendVolume('v1', 128 * MIB)).sizeBytes, 128 * MIB);
    assert.deepEqual(host.calls, [['losetup', '--set-capacity', '/dev/loop0']]);
    await block.unmountForContainer('r1');
    host.calls.length = 0;
    await block.mountForContainer('a1', 'v1');
    assert.deepEqual(host.calls.map((c) => c[0]), ['losetup', 'blkid', 'resize2fs', 'mount']);
  }, false);
});

test('a failed mount leaves no loop device, mount point or record', async () => {
  await withDriver(async ({ dir, block, host }) => {
    await block.createVolume('v1', 64 * MIB);
    host.fail.add('mount');
    await assert.rejects(block.mountForContainer('a1', 'v1'), code('ERR_INTERNAL', /simulated failure/));
    assert.equal(await host.loopCount(), 0);
    assert.deepEqual(await readdir(path.join(dir, 'mounts')), []);
    host.fail.clear();
    host.filesystems.set(path.join(dir, 'volumes', 'v1.raw'), 'squashfs');
    await assert.rejects(block.mountForContainer('a1', 'v1'), code('ERR_CONFLICT', /squashfs/));
    assert.equal(await host.loopCount(), 0);
    assert.deepEqual(await readdir(path.join(dir, 'mounts')), []);
  });
});

test('a new instance finds mounts whose record was never written, drops records with nothing behind them and releases idle loop devices', async () => {
  await withDriver(async ({ dir, block, host, again }) => {
    await block.createVolume('v1', 64 * MIB);
    await block.createVolume('v2', 64 * MIB);
    const m = await block.mountForContainer('a1', 'v1');
    // As if Kumo had been killed just before writing the record...
    await rm(path.join(dir, 'mounts', 'a1.json'));
    // ...and, for another attachment, between umount and losetup --detach.
    await block.mountForContainer('a2', 'v2');
    host.mounts.splice(host.mounts.findIndex((x) => x.dir.endsWith('/a2')), 1);
    assert.equal(await host.loopCount(), 2);
    const restarted = again();
    assert.deepEqual(await restarted.listContainerMounts(), [m]);
    assert.deepEqual((await readdir(path.join(dir, 'mounts'))).sort(), ['a1', 'a1.json']);
    assert.equal(await host.loopCount(), 1);
    await restarted.unmountForContainer('a1');
    assert.equal(await host.loopCount(), 0);
    assert.deepEqual(await restarted.listContainerMounts(), []);
  });
});
