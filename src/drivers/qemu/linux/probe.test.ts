import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootsUnderKvm, buildKvmProbeArgv, hostTscKhz, parseQemuVersion, PROBE_MARKER } from './probe.js';

test('probe parsing: QEMU version and the TSC frequency', () => {
  assert.equal(parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright'), '7.2.22');
  assert.equal(parseQemuVersion('garbage'), 'unknown');
  assert.equal(hostTscKhz('processor\t: 0\ncpu MHz\t\t: 2596.122\n'), 2596122);
  assert.equal(hostTscKhz('processor\t: 0\n'), null);
});

test('KVM probe: booted only when the marker appears in time; a hang or an early exit is not booted', async () => {
  assert.deepEqual(await bootsUnderKvm(['sh', '-c', `sleep 0.1; echo ${PROBE_MARKER}; exec sleep 30`], 10_000), { booted: true, detail: 'a probe guest booted under KVM' });
  assert.deepEqual(await bootsUnderKvm(['sh', '-c', 'exec sleep 30'], 200), { booted: false, detail: 'the probe guest did not boot within 200 ms' });
  const aborted = await bootsUnderKvm(['sh', '-c', 'echo "kvm.c: Assertion failed" >&2; exit 3'], 10_000);
  assert.deepEqual(aborted, { booted: false, detail: 'QEMU exited (3) before the probe guest booted: kvm.c: Assertion failed' });
  const argv = buildKvmProbeArgv('/usr/bin/qemu-system-x86_64', '/boot/vmlinuz', '/tmp/initrd');
  assert.deepEqual(argv.slice(0, 9), ['/usr/bin/qemu-system-x86_64', '-machine', 'q35', '-accel', 'kvm', '-cpu', 'host', '-smp', '1']);
  assert.ok(argv.includes('-no-reboot'));
});
