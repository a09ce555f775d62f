#!/usr/bin/env bash
# The test command (README, `npm test`, .ci/run): installs what the tests need, builds, starts a
# throwaway PostgreSQL on loopback, then runs the unit and API tests on SQLite and PostgreSQL and
# the end-to-end tests with the real `openstack` CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v openstack >/dev/null 2>&1 || need+=(python3-openstackclient)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || need+=(iproute2)
[ -x /usr/sbin/nft ] || need+=(nftables)
[ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
[ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v busybox >/dev/null 2>&1 || need+=(busybox)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
[ -x /usr/sbin/runc ] || command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /usr/bin/conmon ] || need+=(conmon)
command -v crun >/dev/null 2>&1 || need+=(crun)
python3 -c 'import zunclient' >/dev/null 2>&1 || need+=(python3-zunclient)
/usr/bin/python3 -c 'import osc_placement' >/dev/null 2>&1 || need+=(python3-osc-placement)
# The legacy glance client (test/e2e/image-cli.test.ts); python3-openstackclient depends on it already.
[ -x /usr/bin/glance ] || need+=(python3-glanceclient)
# Virtual machines: QEMU and qemu-img; the test VM boots the Debian cloud kernel with a busybox initramfs.
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 || need+=(linux-image-cloud-amd64)
# Config drives are ISO 9660 images labelled config-2, as Nova makes them.
command -v genisoimage >/dev/null 2>&1 || need+=(genisoimage)
# The test's bootable disk image: a FAT file system made and filled without mounting it, with syslinux as boot loader.
command -v mkfs.vfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.vfat ] || [ -x /sbin/mkfs.vfat ] || need+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v syslinux >/dev/null 2>&1 || need+=(syslinux)
# Volumes for containers (src/drivers/block): loop devices and mounts (mount), signatures probed (blkid: util-linux), ext4 made, checked and grown (e2fsprogs).
{ [ -x /usr/sbin/losetup ] || [ -x /sbin/losetup ]; } || need+=(mount)
{ [ -x /usr/sbin/blkid ] || [ -x /sbin/blkid ]; } || need+=(util-linux)
{ [ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ]; } && { [ -x /usr/sbin/resize2fs ] || [ -x /sbin/resize2fs ]; } || need+=(e2fsprogs)
# Test images are built from a static busybox. busybox-static replaces the busybox package (same commands), so it is asked for instead of it.
if [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" != 'install ok installed' ]; then
  for i in "${!need[@]}"; do [ "${need[$i]}" != busybox ] || unset 'need[i]'; done
  need+=(busybox-static)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "the tests need: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# A node_modules symlink (a git worktree sharing another checkout's) is used as it is: npm ci would empty its target.
[ -L node_modules ] || { [ -d node_modules ] && [ node_modules -nt package-lock.json ]; } || npm ci --no-audit --no-fund
npm run build --silent

pgdir=$(mktemp -d /tmp/kumo-test-pg.XXXXXX)
cleanup() { bash scripts/postgres-test-server.sh stop "$pgdir" || true; }
trap cleanup EXIT
pgport=${KUMO_TEST_PG_PORT:-$(( 20000 + RANDOM % 20000 ))}
pgurl=$(bash scripts/postgres-test-server.sh start "$pgdir" "$pgport")

export KUMO_TEST_DIALECTS=${KUMO_TEST_DIALECTS:-sqlite,postgres}
export KUMO_TEST_POSTGRES_URL=$pgurl
node --test dist/src dist/test/api dist/test/e2e dist/test/integration
# The runtime contract again with crun (in its private mount namespace on a hybrid cgroup host).
KUMO_TEST_OCI_RUNTIME=crun node --test dist/test/integration/oci-runtime.test.js
