# Sourced by the Tempest scripts whose tests boot real VMs (tempest-compute.sh, tempest-volume.sh),
# after peer-tempest.sh. Sets BUILD_TIMEOUT (KUMO_TEMPEST_BUILD_TIMEOUT [300], the conf's build_timeout).
#
# `start_vm_tempest_kumo TMP_PREFIX` checks for root, prepares the harness, Tempest and dist/
# (prepare_peer_tempest), builds the test VM disk (test/support/vm-image.ts), starts a
# throwaway `kumo up --agent on --accel tcg` (throwaway-kumo.sh; QEMU guests, namespaces and bridges
# of its data dir are purged when it stops) and, as admin, makes what booting needs
# (kumo_admin.compute_fixtures). Sets what start_throwaway_kumo sets plus PEER (absolute), BOOT_DISK,
# IMAGE_REF, IMAGE_REF_ALT, FLAVOR_REF, FLAVOR_REF_ALT, FIXED_NETWORK_NAME, COMPUTE_URL, and HARNESS
# and DEBUG (peer_tempest_harness_dir).

BUILD_TIMEOUT=${KUMO_TEMPEST_BUILD_TIMEOUT:-300}

start_vm_tempest_kumo() {
  [ "$(id -u)" = 0 ] || { echo "$me: run as root (the agent drives QEMU and host networking)" >&2; exit 2; }
  prepare_peer_tempest dist/kumo.mjs dist/test/support/vm-image.js

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

  peer_tempest_harness_dir
}

# QEMU outlives Kumo by design: remove the guests, namespaces and bridges of this data dir.
throwaway_kumo_after_stop() {
  (cd "$REPO" && node --input-type=module -e \
    "const m = await import('./dist/test/support/kumo-process.js'); await m.purgeHostObjects(process.argv[1])" "$DATA")
}
