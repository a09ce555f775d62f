# Sourced by the Tempest scripts whose tests boot real VMs (tempest-compute.sh, tempest-volume.sh),
# after they set REPO, PEER, HOST, LOG_LEVEL, START_TIMEOUT and me.
#
# `start_vm_tempest_kumo TMP_PREFIX` checks for root and the peer-keystone harness, installs Tempest
# if missing, builds dist/ if missing and the test VM disk (test/support/vm-image.ts), starts a
# throwaway `kumo up --agent on --accel tcg` (throwaway-kumo.sh; QEMU guests, namespaces and bridges
# of its data dir are purged when it stops) and, as admin, makes what booting needs
# (kumo_admin.compute_fixtures). Sets what start_throwaway_kumo sets plus PEER (absolute), BOOT_DISK,
# IMAGE_REF, IMAGE_REF_ALT, FLAVOR_REF, FLAVOR_REF_ALT, FIXED_NETWORK_NAME, COMPUTE_URL, HARNESS (a
# directory holding a symlink to run-tempest.sh, where the caller writes its tempest.conf.template)
# and DEBUG (true/false from KUMO_TEMPEST_DEBUG [1]).

start_vm_tempest_kumo() {
  [ "$(id -u)" = 0 ] || { echo "$me: run as root (the agent drives QEMU and host networking)" >&2; exit 2; }
  [ -f "$PEER/run-tempest.sh" ] && [ -f "$PEER/tempest.conf.template" ] ||
    { echo "$me: $PEER/run-tempest.sh or tempest.conf.template not found (set PEER_KEYSTONE_DIR)" >&2; exit 2; }
  PEER=$(cd "$PEER" && pwd)

  if ! command -v tempest >/dev/null 2>&1 || ! dpkg -s tempest keystone-tempest-plugin >/dev/null 2>&1; then
    echo "# installing tempest keystone-tempest-plugin"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=900 tempest keystone-tempest-plugin
  fi

  if [ ! -f "$REPO/dist/kumo.mjs" ] || [ ! -f "$REPO/dist/test/support/vm-image.js" ]; then
    echo "# dist/ missing: npm run build"
    (cd "$REPO" && npm run build)
  fi

  # The bootable test disk (cached under /var/tmp/kumo-test-vm by kernel version and /init revision).
  BOOT_DISK=$(cd "$REPO" && node --input-type=module -e \
    "const m = await import('./dist/test/support/vm-image.js'); process.stdout.write(m.buildTestVmImage().bootDisk)")
  [ -s "$BOOT_DISK" ] || { echo "$me: the test VM image was not built" >&2; exit 1; }
  echo "# test VM disk: $BOOT_DISK"

  . "$REPO/scripts/lib/throwaway-kumo.sh"
  start_throwaway_kumo "$1" --agent on --host "$(hostname)" --accel tcg

  # As admin: two images, two flavors, a shared network, as KEY=VALUE lines in $TMP/setup.env.
  local setup_env=$TMP/setup.env
  ME=$me LIB=$REPO/scripts/lib KS="$PUBLIC/identity/v3" ADMIN_PASSWORD=$ADMIN_PASSWORD REGION=$REGION BOOT_DISK=$BOOT_DISK \
  python3 - > "$setup_env" <<'PY'
import os, sys
sys.path.insert(0, os.environ['LIB'])
from kumo_admin import Admin, compute_fixtures

admin = Admin(os.environ['KS'], os.environ['ADMIN_PASSWORD'], os.environ['REGION'])
for k, v in compute_fixtures(admin, os.environ['BOOT_DISK']).items():
    print(f'{k}={v}')
PY
  # shellcheck disable=SC1090
  . "$setup_env"
  echo "# images $IMAGE_REF $IMAGE_REF_ALT, flavors $FLAVOR_REF $FLAVOR_REF_ALT, network $FIXED_NETWORK_NAME"
  echo "# TEMPEST_REGEXES=$TEMPEST_REGEXES TEMPEST_EXCLUDE=$TEMPEST_EXCLUDE"

  HARNESS=$TMP/harness
  mkdir -p "$HARNESS"
  ln -s "$PEER/run-tempest.sh" "$HARNESS/run-tempest.sh"
  [ "${KUMO_TEMPEST_DEBUG:-1}" = 1 ] && DEBUG=true || DEBUG=false
}

# QEMU outlives Kumo by design: remove the guests, namespaces and bridges of this data dir.
throwaway_kumo_after_stop() {
  (cd "$REPO" && node --input-type=module -e \
    "const m = await import('./dist/test/support/kumo-process.js'); await m.purgeHostObjects(process.argv[1])" "$DATA")
}
