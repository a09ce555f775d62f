#!/bin/bash
# Run Tempest's compute API tests (tempest.api.compute: servers, flavors, keypairs, images, limits,
# quotas) and image API tests (tempest.api.image.v2) against a throwaway Kumo that boots real VMs.
#
# Usage:  scripts/tempest-compute.sh            (as root; from anywhere; builds dist/ if missing)
#
# It starts `node dist/kumo.mjs up --agent on --accel tcg` on a fresh temp data dir and a free
# loopback port (the agent drives this host's networking and QEMU, so: root), builds the test VM
# image (test/support/vm-image.ts: a kernel + busybox initramfs on a bootable qcow2, no downloads)
# and, as admin, uploads it twice as public images (image_ref, image_ref_alt), creates two public
# flavors sized for that guest (flavor_ref; flavor_ref_alt, bigger, for resize) and a shared
# tenant network with a subnet (fixed_network_name: every Tempest project's servers get a port on
# it). It then runs the shared peer-keystone harness (../shared/tools/peer-keystone/run-tempest.sh)
# unmodified with our own tempest.conf.template beside a symlink to it (as tempest-network.sh does):
# the harness's identity template with the compute, image and network sections filled in.
# Kumo is stopped on exit and every VM, namespace and bridge it made is removed.
# Exit status: 0 only if every test run reported failed=0.
#
# Env knobs [default]:
#   KUMO_TEMPEST_PORT [first free port from 5055]  a set port must be free, or we fail
#   KUMO_TEMPEST_HOST [127.0.0.1]
#   KUMO_TEMPEST_LOG_LEVEL [info]        Kumo's --log-level (4xx are logged at info)
#   KUMO_TEMPEST_START_TIMEOUT [60]      seconds to wait for GET /identity/v3 -> 200
#   KUMO_TEMPEST_KEEP_DATA [0]           1 keeps the temp data dir (SQLite db, secrets, VM dirs)
#   KUMO_TEMPEST_DEBUG [1]               Tempest's [DEFAULT] debug (every request in ws/logs/tempest.log)
#   KUMO_TEMPEST_BUILD_TIMEOUT [300]     [compute]/[image] build_timeout, seconds
#   PEER_KEYSTONE_DIR [<repo>/../shared/tools/peer-keystone]
#   KUMO_DATABASE_URL                    passed through to Kumo (PostgreSQL instead of SQLite)
#   TEMPEST_REGEXES [compute parts, then image v2]   one `tempest run` each, in order
#   TEMPEST_CONCURRENCY [2]              the host has 2 cores and the guests run under TCG
#   TEMPEST_EXCLUDE [below]              set it to '' to run everything
# Output: Kumo's log under /tmp/kumo-tempest-compute.*/kumo.log, Tempest's work dir (rendered
# tempest.conf, r*.log, subunit, failed/skipped lists, ws/logs/tempest.log) under
# /tmp/peer-keystone-tempest/run-*/. Both paths are printed.
set -euo pipefail

export TEMPEST_REGEXES=${TEMPEST_REGEXES:-'^tempest\.api\.compute\.(servers|flavors|keypairs|images|limits)\.|^tempest\.api\.compute\.test_quotas\. ^tempest\.api\.image\.v2\.'}
export TEMPEST_CONCURRENCY=${TEMPEST_CONCURRENCY:-2}
# What Kumo does not implement and Tempest does not skip by itself (features Tempest can be told
# are off are turned off in the conf below instead: rescue, shelve, migrations, VNC/SPICE/RDP/
# serial consoles, change password, volumes, image locations, metadefs caching...):
#  - ServerPasswordTestJSON: os-server-password (the metadata service's password store).
#  - test_create_backup: the createBackup action (rotating snapshots).
#  - tempest.api.image.v2...Metadata*Test (metadefs namespaces, objects, properties, tags,
#    resource types, schemas): Glance's metadata definitions catalog.
export TEMPEST_EXCLUDE=${TEMPEST_EXCLUDE-'ServerPasswordTestJSON|test_create_backup|tempest\.api\.image\.v2\.(admin\.)?test_images_metadefs_'}
me=tempest-compute

. "$(dirname "${BASH_SOURCE[0]}")/lib/peer-tempest.sh"
. "$REPO/scripts/lib/vm-tempest.sh"
start_vm_tempest_kumo kumo-tempest-compute

SRC="$PEER/tempest.conf.template" DST="$HARNESS/tempest.conf.template" DEBUG=$DEBUG \
IMAGE_REF=$IMAGE_REF IMAGE_REF_ALT=$IMAGE_REF_ALT FLAVOR_REF=$FLAVOR_REF FLAVOR_REF_ALT=$FLAVOR_REF_ALT \
FIXED_NETWORK_NAME=$FIXED_NETWORK_NAME BUILD_TIMEOUT=$BUILD_TIMEOUT LIB=$REPO/scripts/lib python3 - <<'PY'
import os, sys
sys.path.insert(0, os.environ['LIB'])
from kumo_admin import write_tempest_conf
e = os.environ
settings = {
    'DEFAULT': {'debug': e['DEBUG']},
    'service_available': {'nova': 'true', 'glance': 'true', 'neutron': 'true', 'cinder': 'false',
                          'swift': 'false', 'horizon': 'false'},
    'compute': {
        'catalog_type': 'compute', 'endpoint_type': 'publicURL',
        'image_ref': e['IMAGE_REF'], 'image_ref_alt': e['IMAGE_REF_ALT'],
        'flavor_ref': e['FLAVOR_REF'], 'flavor_ref_alt': e['FLAVOR_REF_ALT'],
        'fixed_network_name': e['FIXED_NETWORK_NAME'],
        'build_timeout': e['BUILD_TIMEOUT'], 'build_interval': '1',
        'min_compute_nodes': '1', 'max_microversion': 'latest',
    },
    # What Kumo's compute does not have is off, so Tempest skips those tests itself.
    'compute-feature-enabled': {
        # OS-DCF:diskConfig is always MANUAL: Kumo never repartitions or grows a guest's file system.
        'disk_config': 'false', 'console_output': 'true', 'resize': 'true', 'pause': 'true',
        'suspend': 'true', 'snapshot': 'true', 'interface_attach': 'true', 'config_drive': 'true',
        'metadata_service': 'true', 'enable_instance_password': 'true',
        'personality': 'false', 'change_password': 'false', 'shelve': 'false', 'shelve_migrate': 'false',
        'cold_migration': 'false', 'live_migration': 'false', 'rescue': 'false', 'stable_rescue': 'false',
        'vnc_console': 'false', 'spice_console': 'false', 'rdp_console': 'false', 'serial_console': 'false',
        'swap_volume': 'false', 'volume_multiattach': 'false', 'attach_encrypted_volume': 'false',
        'hostname_fqdn_sanitization': 'false', 'ide_bus': 'false', 'unified_limits': 'false',
        'nova_cert': 'false',
        # Within tempest.api.compute.servers this only gates the server metadata write tests
        # (Tempest ties them to Xen because the guest reads metadata there); the API is Kumo's.
        'xenapi_apis': 'true',
    },
    'image': {'catalog_type': 'image', 'endpoint_type': 'publicURL', 'build_timeout': e['BUILD_TIMEOUT']},
    'image-feature-enabled': {'api_v2': 'true', 'api_v1': 'false', 'import_image': 'true',
                              'os_glance_reserved': 'true', 'manage_locations': 'false',
                              'image_caching_enabled': 'false'},
    'network': {'catalog_type': 'network', 'endpoint_type': 'publicURL',
                'project_networks_reachable': 'false'},
    'network-feature-enabled': {'floating_ips': 'true'},
    'validation': {'run_validation': 'false'},
}
write_tempest_conf(e['SRC'], e['DST'], settings, 'scripts/tempest-compute.sh')
PY

run_peer_tempest_and_exit "$HARNESS/run-tempest.sh" "Kumo compute and image Tempest summary" "$COMPUTE_URL"
