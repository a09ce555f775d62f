/**
 * The test VM image, built from what is installed on this host (no downloads): the Debian cloud
 * kernel (linux-image-cloud-amd64), a busybox initramfs with the virtio, ACPI button and config
 * drive file system modules of that kernel, and an empty 64 MiB qcow2 disk, so a Glance image can
 * be an AMI (the disk) with kernel_id/ramdisk_id (AKI/ARI) properties the way Nova boots such
 * images directly; and a self-contained bootable disk (FAT + syslinux, made without loop mounts:
 * mkfs.vfat -C, mtools, syslinux's mtools-based installer) that boots by firmware like any cloud image.
 *
 * The guest's /init prints lines the tests look for on the serial console:
 *   KUMO-GUEST-UP uptime=<s>            userspace is running
 *   KUMO-NIC <ifname> mac=<mac>         a NIC the kernel found
 *   KUMO-DISK <name> serial=<serial>    a virtio disk
 *   KUMO-IP <ifname> <cidr>             DHCP gave an address
 *   KUMO-META uuid=<uuid> source=...    the instance uuid from the metadata service or config drive
 *   KUMO-USERDATA <first line>          the first line of the user data (a `#!` script is then run once)
 *   KUMO-ACPI-POWEROFF                  the power button was pressed; the guest powers off
 * and then runs a shell on the serial console.
 * Built once per kernel version and /init revision into a cache directory.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { busyboxInitramfs, findGuestKernel, kernelModules } from '../../src/drivers/qemu/linux/initramfs.js';
import { findBinary } from '../../src/lib/find-binary.js';

export interface TestVmImage {
  readonly kernel: string;
  readonly initrd: string;
  /** An empty 64 MiB qcow2 disk (the AMI part). */
  readonly disk: string;
  /**
   * A self-contained bootable qcow2 disk: an unpartitioned FAT file system with syslinux as boot
   * loader and the same kernel and initramfs, for images that boot by firmware (`image create --file`).
   */
  readonly bootDisk: string;
  readonly kernelVersion: string;
  /** Kernel arguments the guest needs (serial console; quiet boot). */
  readonly cmdline: string;
}

const MODULES = [
  'virtio_pci', 'virtio_mmio', 'virtio_net', 'virtio_blk', 'button', 'evdev', 'isofs', 'vfat', 'nls_cp437', 'nls_iso8859_1',
];

const INIT = `#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null
for m in $(cat /mod/order); do insmod /mod/$m.ko 2>/dev/null; done
# The ACPI power button (system_powerdown) reaches busybox acpid as an input event; its handler powers off.
# It starts before the marker, so a power off requested once the marker is seen is not lost.
acpid -d -c /etc/acpi >/dev/null 2>&1 &
echo "KUMO-GUEST-UP uptime=$(cut -d' ' -f1 /proc/uptime)"
for n in /sys/class/net/*; do i=\${n##*/}; [ "$i" = lo ] || echo "KUMO-NIC $i mac=$(cat $n/address)"; done
for d in /sys/block/vd*; do [ -e "$d" ] && echo "KUMO-DISK \${d##*/} serial=$(cat $d/serial 2>/dev/null)"; done
ip link set lo up
meta() { # $1 = directory or URL prefix holding openstack/latest, $2 = source label, $3 = fetch command
  j=$($3 "$1/openstack/latest/meta_data.json" 2>/dev/null) || return 1
  echo "KUMO-META uuid=$(echo "$j" | sed -n 's/.*"uuid": *"\\([^"]*\\)".*/\\1/p') source=$2"
  mkdir -p /run
  if $3 "$1/openstack/latest/user_data" > /run/user-data 2>/dev/null; then
    echo "KUMO-USERDATA $(head -n 1 /run/user-data)"
    # A script runs once, as cloud-init runs a user-data script.
    if [ "$(head -c 2 /run/user-data)" = '#!' ] && [ ! -e /run/user-data.ran ]; then
      touch /run/user-data.ran; chmod +x /run/user-data; /run/user-data > /dev/console 2>&1 &
    fi
  fi
  return 0
}
cd_dev=$(findfs LABEL=config-2 2>/dev/null)
if [ -n "$cd_dev" ]; then
  mkdir -p /mnt/config && { mount -o ro -t iso9660 "$cd_dev" /mnt/config 2>/dev/null || mount -o ro -t vfat "$cd_dev" /mnt/config; } \\
    && meta /mnt/config config-drive cat
fi
if [ -e /sys/class/net/eth0 ]; then
  # busybox-static's wget crashes with -T, so the metadata fetch has no timeout of its own.
  ( ip link set eth0 up
    # As cloud-init's DHCP would, it waits for the network to come (a new network's DHCP server may take a while on a busy host).
    if udhcpc -i eth0 -n -q -t 40 -T 2 -O staticroutes -s /etc/udhcpc.script >/dev/null 2>&1; then
      echo "KUMO-IP eth0 $(ip -4 -o addr show eth0 | awk '{print $4}')"
      # The metadata proxy may come up a moment after the lease: a few tries.
      n=0; until meta http://169.254.169.254 metadata-service "wget -q -O -" || [ $n -ge 20 ]; do n=$((n+1)); sleep 1; done
    fi ) &
fi
while :; do setsid cttyhack /bin/sh; sleep 1; done
`;

const ACPI_POWER = `#!/bin/sh
echo KUMO-ACPI-POWEROFF > /dev/console
sync
poweroff -f
`;

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in bound|renew)
  ip addr flush dev "$interface"; ip addr add "$ip/\${mask:-24}" dev "$interface"
  # RFC 3442: with classless static routes (the metadata address, the default route) the router option is ignored.
  if [ -n "$staticroutes" ]; then
    set -- $staticroutes
    while [ $# -ge 2 ]; do ip route add "$1" via "$2" dev "$interface" 2>/dev/null || ip route add "$1" dev "$interface"; shift 2; done
  elif [ -n "$router" ]; then ip route add default via \${router%% *} dev "$interface"; fi
  [ -n "$dns" ] && for d in $dns; do echo "nameserver $d"; done > /etc/resolv.conf ;;
esac
exit 0
`;

/** FAT file system image → kernel, initramfs and syslinux.cfg copied in with mtools → boot sector by syslinux → qcow2. */
function buildBootDisk(stage: string, cmdline: string): void {
  const fat = path.join(stage, 'boot-disk.img');
  const config = path.join(stage, 'syslinux.cfg');
  writeFileSync(config, `DEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL vmlinuz\n  INITRD initrd.gz\n  APPEND ${cmdline}\n`);
  execFileSync(findBinary('mkfs.vfat') ?? 'mkfs.vfat', ['-C', '-n', 'KUMOBOOT', fat, String(40 * 1024)], { stdio: 'ignore' });
  for (const [from, to] of [[config, 'syslinux.cfg'], [path.join(stage, 'vmlinuz'), 'vmlinuz'], [path.join(stage, 'initramfs.cpio.gz'), 'initrd.gz']]) {
    execFileSync('mcopy', ['-i', fat, from, `::/${to}`]);
  }
  execFileSync('syslinux', ['--install', fat]);
  execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', fat, path.join(stage, 'boot-disk.qcow2')]);
  rmSync(fat);
  rmSync(config);
}

/** Builds the image into `cacheDir` (default /var/tmp/kumo-test-vm) unless it is there already. */
export function buildTestVmImage(cacheDir = '/var/tmp/kumo-test-vm'): TestVmImage {
  const kernel = findGuestKernel();
  if (!kernel) throw new Error('no /boot/vmlinuz-*-cloud-amd64: install linux-image-cloud-amd64 (scripts/test.sh does)');
  const busybox = findBinary('busybox');
  if (!busybox) throw new Error('busybox is not installed (busybox-static)');
  const key = createHash('sha256').update(INIT).update(ACPI_POWER).update(UDHCPC_SCRIPT).update(MODULES.join(',')).update(buildBootDisk.toString()).digest('hex').slice(0, 12);
  const dir = path.join(cacheDir, `${kernel.version}-${key}`);
  const image: TestVmImage = {
    kernel: path.join(dir, 'vmlinuz'),
    initrd: path.join(dir, 'initramfs.cpio.gz'),
    disk: path.join(dir, 'disk.qcow2'),
    bootDisk: path.join(dir, 'boot-disk.qcow2'),
    kernelVersion: kernel.version,
    cmdline: 'console=ttyS0 quiet panic=-1',
  };
  if (existsSync(path.join(dir, 'complete'))) return image;
  // Built beside the final directory and renamed into place, so a concurrent or interrupted build never leaves half an image.
  const stage = `${dir}.tmp-${process.pid}`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const modules = kernelModules(path.join('/lib/modules', kernel.version), MODULES);
  const initrd = busyboxInitramfs({
    busyboxPath: busybox,
    init: INIT,
    extra: [
      ...modules.entries,
      { path: 'mod/order', kind: 'file', data: `${modules.loadOrder.join('\n')}\n` },
      { path: 'etc/acpi', kind: 'dir' },
      { path: 'etc/acpi/PWRF', kind: 'dir' },
      { path: 'etc/acpi/PWRF/00000080', kind: 'file', data: ACPI_POWER, mode: 0o755 },
      { path: 'etc/udhcpc.script', kind: 'file', data: UDHCPC_SCRIPT, mode: 0o755 },
    ],
  });
  copyFileSync(kernel.path, path.join(stage, 'vmlinuz'));
  writeFileSync(path.join(stage, 'initramfs.cpio.gz'), initrd);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(stage, 'disk.qcow2'), '64M']);
  buildBootDisk(stage, image.cmdline);
  writeFileSync(path.join(stage, 'complete'), '');
  try {
    renameSync(stage, dir);
  } catch (err) {
    // Another process finished first: its image is the same.
    rmSync(stage, { recursive: true, force: true });
    if (!existsSync(path.join(dir, 'complete'))) throw err;
  }
  return image;
}
