import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerSpec } from '../types.js';
import { buildRuntimeSpec, cpuQuota, DEFAULT_CAPABILITIES, defaultSeccompProfile, limitsToUpdate, type SpecContext } from './spec.js';

const ID = '3f2a9c4e-1b2d-4c3e-8f9a-0123456789ab';

function spec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    id: ID, rootfs: '/var/lib/kumo/rootfs/x', args: ['sh', '-c', 'echo hi'], env: ['FOO=bar'], workdir: '', hostname: 'web-1', user: '',
    netns: null, limits: { cpu: null, memoryBytes: null, pids: null }, tty: false, interactive: false, mounts: [], labels: { tier: 'web' },
    ...overrides,
  };
}

const ctx: SpecContext = {
  owner: 'ab12',
  cgroupsPath: `/kumo/ab12-${ID}`,
  user: { uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' },
  host: { swapLimit: true, cgroupV2: false, arch: 'x64', nofile: 1_048_576 },
};

test('spec: Docker\'s capabilities, no new privileges, namespaces, cgroup path, owner annotations', () => {
  const s = buildRuntimeSpec(spec(), ctx);
  assert.deepEqual([...s.process.capabilities.bounding].sort(), [...DEFAULT_CAPABILITIES].sort());
  assert.equal(s.process.capabilities.bounding.length, 14);
  assert.deepEqual(s.process.capabilities.effective, s.process.capabilities.bounding);
  assert.deepEqual(s.process.capabilities.inheritable, []);
  assert.ok(!s.process.capabilities.bounding.includes('CAP_SYS_ADMIN'));
  assert.equal(s.process.noNewPrivileges, true);
  assert.deepEqual(s.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'uts']);
  assert.equal(s.linux.namespaces.find((n) => n.type === 'network')?.path, undefined, 'no netns given: a new, private one');
  assert.equal(s.linux.cgroupsPath, `/kumo/ab12-${ID}`);
  assert.deepEqual(s.annotations, { tier: 'web', 'kumo.owner': 'ab12', 'kumo.container-id': ID });
  assert.equal(s.hostname, 'web-1');
  assert.equal(s.process.cwd, '/');
  assert.deepEqual(s.process.user, { uid: 0, gid: 0, additionalGids: [0, 10] });
  assert.deepEqual(s.process.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1_048_576, soft: 1_048_576 }]);
  assert.deepEqual(s.root, { path: '/var/lib/kumo/rootfs/x', readonly: false });
  assert.ok(s.linux.maskedPaths.includes('/proc/kcore') && s.linux.readonlyPaths.includes('/proc/sys'));
  assert.deepEqual(s.linux.resources, { devices: [{ allow: false, access: 'rwm' }] }, 'no limits: none written');
});

test('spec: a named netns is joined by path; a label cannot overwrite the owner annotation; cgroup v2 adds a cgroup namespace', () => {
  const s = buildRuntimeSpec(spec({ netns: 'kumo-ctr-ab12-x', labels: { 'kumo.owner': 'someone-else' } }), { ...ctx, host: { ...ctx.host, cgroupV2: true } });
  assert.equal(s.linux.namespaces.find((n) => n.type === 'network')?.path, '/var/run/netns/kumo-ctr-ab12-x');
  assert.equal(s.annotations['kumo.owner'], 'ab12');
  assert.ok(s.linux.namespaces.some((n) => n.type === 'cgroup'));
  assert.equal(buildRuntimeSpec(spec({ netns: '/run/netns/other' }), ctx).linux.namespaces.find((n) => n.type === 'network')?.path, '/run/netns/other');
});

test('spec: labels a runtime would act on (a seccomp filter for crun, CRI, Kata) stay out of the annotations; others go in', () => {
  const labels = { tier: 'web', 'run.oci.seccomp_bpf_data': 'AAAA', 'RUN.OCI.keep_original_groups': '1', 'io.kubernetes.cri.container-type': 'sandbox', 'io.katacontainers.config.hypervisor.path': '/x', 'app.kubernetes.io/name': 'web' };
  const s = buildRuntimeSpec(spec({ labels }), ctx);
  assert.deepEqual(Object.keys(s.annotations).sort(), ['app.kubernetes.io/name', 'kumo.container-id', 'kumo.owner', 'tier'].sort());
});

test('spec: environment gets PATH, HOSTNAME, HOME (and TERM with a tty) only when missing', () => {
  const s = buildRuntimeSpec(spec({ tty: true }), ctx);
  assert.deepEqual(s.process.env, ['FOO=bar', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=web-1', 'HOME=/root', 'TERM=xterm']);
  assert.equal(s.process.terminal, true);
  const own = buildRuntimeSpec(spec({ env: ['PATH=/x', 'HOME=/h', 'HOSTNAME=me'] }), ctx);
  assert.deepEqual(own.process.env, ['PATH=/x', 'HOME=/h', 'HOSTNAME=me']);
});

test('spec: default mounts as Docker has them; a bind on a default destination replaces it', () => {
  const s = buildRuntimeSpec(spec({
    mounts: [
      { source: '/var/lib/kumo/c/hosts', destination: '/etc/hosts', readonly: true },
      { source: '/var/lib/kumo/vol/shm', destination: '/dev/shm', readonly: false },
    ],
  }), ctx);
  const dests = s.mounts.map((m) => m.destination);
  for (const d of ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/etc/hosts']) assert.ok(dests.includes(d), d);
  assert.equal(dests.filter((d) => d === '/dev/shm').length, 1);
  assert.deepEqual(s.mounts.find((m) => m.destination === '/etc/hosts'), { destination: '/etc/hosts', type: 'bind', source: '/var/lib/kumo/c/hosts', options: ['rbind', 'rprivate', 'ro'] });
  assert.equal(s.mounts.find((m) => m.destination === '/dev/shm')?.type, 'bind');
  assert.ok(s.mounts.find((m) => m.destination === '/sys')?.options.includes('ro'));
});

test('spec: limits map to CFS quota/period, memory with equal swap (when the host can limit swap), pids', () => {
  const limits = { cpu: 0.5, memoryBytes: 64 * 1024 * 1024, pids: 100 };
  const s = buildRuntimeSpec(spec({ limits }), ctx);
  assert.deepEqual(s.linux.resources.cpu, { quota: 50_000, period: 100_000 });
  assert.deepEqual(s.linux.resources.memory, { limit: 67108864, swap: 67108864 });
  assert.deepEqual(s.linux.resources.pids, { limit: 100 });
  const noSwap = buildRuntimeSpec(spec({ limits }), { ...ctx, host: { ...ctx.host, swapLimit: false } });
  assert.deepEqual(noSwap.linux.resources.memory, { limit: 67108864 });
  assert.equal(cpuQuota(0.001), 1000, 'the kernel minimum');
  assert.equal(cpuQuota(2.25), 225_000);
  assert.deepEqual(limitsToUpdate({ cpu: null, memoryBytes: null, pids: null }, true), {
    memory: { limit: -1, swap: -1 }, cpu: { quota: -1, period: 100_000 }, pids: { limit: -1 },
  });
  assert.deepEqual(limitsToUpdate({ cpu: null, memoryBytes: null, pids: null }, true, false), { memory: { limit: -1, swap: -1 } }, 'crun: no unlimited cpu or pids entry');
  assert.throws(() => buildRuntimeSpec(spec({ args: [] }), ctx));
});

test('seccomp: an EPERM allowlist with what busybox needs, none of the escape hatches', () => {
  const p = defaultSeccompProfile('x64');
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const unconditional = new Set(p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
  // sh, sleep, httpd, nc, ping, ps
  for (const name of ['execve', 'fork', 'vfork', 'wait4', 'nanosleep', 'clock_nanosleep', 'accept4', 'bind', 'listen', 'connect', 'sendto',
    'recvfrom', 'setsockopt', 'poll', 'getdents64', 'openat', 'read', 'write', 'rt_sigaction', 'arch_prctl', 'chroot']) {
    assert.ok(unconditional.has(name), name);
  }
  for (const name of ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'kexec_load', 'init_module', 'bpf', 'keyctl', 'add_key',
    'open_by_handle_at', 'name_to_handle_at', 'reboot', 'swapon', 'settimeofday', 'perf_event_open', 'userfaultfd', 'io_uring_setup']) {
    assert.ok(!p.syscalls.some((r) => r.names.includes(name) && r.action === 'SCMP_ACT_ALLOW'), name);
  }
  const clone = p.syscalls.find((r) => r.names.includes('clone'));
  assert.deepEqual(clone?.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
  assert.equal(p.syscalls.find((r) => r.names.includes('clone3'))?.errnoRet, 38);
  assert.deepEqual(p.syscalls.find((r) => r.names.includes('socket'))?.args, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
  assert.equal(p.syscalls.filter((r) => r.names.includes('personality')).length, 5);
  assert.equal(defaultSeccompProfile('s390x').syscalls.find((r) => r.names.includes('clone'))?.args?.[0].index, 1);
  assert.ok(defaultSeccompProfile('arm64').architectures.includes('SCMP_ARCH_AARCH64'));
});
