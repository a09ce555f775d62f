#!/bin/bash
# Run Tempest's block storage API tests (tempest.api.volume) and Nova's volume tests
# (tempest.api.compute.volumes: attach/detach to real VMs) against a throwaway Kumo.
#
# Usage:  scripts/tempest-volume.sh            (as root; from anywhere; builds dist/ if missing)
#
# It starts `node dist/kumo.mjs up --agent on --accel tcg` on a fresh temp data dir and a free
# loopback port (the agent drives this host's networking, QEMU and the volume files, so: root),
# then prepares what tests that boot servers need exactly as scripts/tempest-compute.sh does
# (kumo_admin.compute_fixtures: the test VM image twice, two flavors, a shared network) and runs
# the shared peer-keystone harness (../shared/tools/peer-keystone/run-tempest.sh) unmodified with
# our own tempest.conf.template beside a symlink to it: the harness's identity template with the
# volume, compute, image and network sections filled in. Volumes are Kumo's real ones: sparse raw
# files on this host, hot-plugged into the QEMU guests.
# Kumo is stopped on exit and every VM, namespace and bridge it made is removed.
# Exit status: 0 only if every test run reported failed=0.
#
# Env knobs [default]:
#   KUMO_TEMPEST_PORT [first free port from 5055]  a set port must be free, or we fail
#   KUMO_TEMPEST_HOST [127.0.0.1]
#   KUMO_TEMPEST_LOG_LEVEL [info]        Kumo's --log-level (4xx are logged at info)
#   KUMO_TEMPEST_START_TIMEOUT [60]      seconds to wait for GET /identity/v3 -> 200
#   KUMO_TEMPEST_KEEP_DATA [0]           1 keeps the temp data dir (SQLite db, secrets, VM dirs, volumes)
#   KUMO_TEMPEST_DEBUG [1]               Tempest's [DEFAULT] debug (every request in ws/logs/tempest.log)
#   KUMO_TEMPEST_BUILD_TIMEOUT [300]     [volume]/[compute]/[image] build_timeout, seconds
#   PEER_KEYSTONE_DIR [<repo>/../shared/tools/peer-keystone]
#   KUMO_DATABASE_URL                    passed through to Kumo (PostgreSQL instead of SQLite)
#   TEMPEST_REGEXES [volume, then compute volumes]   one `tempest run` each, in order
#   TEMPEST_CONCURRENCY [2]              the host has 2 cores and the guests run under TCG
#   TEMPEST_EXCLUDE [below]              set it to '' to run everything
# Output: Kumo's log under /tmp/kumo-tempest-volume.*/kumo.log, Tempest's work dir (rendered
# tempest.conf, r*.log, subunit, failed/skipped lists, ws/logs/tempest.log) under
# /tmp/peer-keystone-tempest/run-*/. Both paths are printed.
set -euo pipefail

export TEMPEST_REGEXES=${TEMPEST_REGEXES:-'^tempest\.api\.volume\. ^tempest\.api\.compute\.volumes\.'}
export TEMPEST_CONCURRENCY=${TEMPEST_CONCURRENCY:-2}
# What Kumo does not implement and Tempest does not skip by itself (features Tempest can be told
# are off are turned off in the conf below instead: backups, manage/unmanage, multiple backends
# and so retype with migration, encrypted volumes):
#  - test_backends_capabilities: GET /capabilities/{host} (a backend's capability report).
#  - test_group_types, test_group_type_specs, test_groups, test_group_snapshots: generic volume groups.
#  - test_qos: QoS specs.
#  - test_user_messages: /messages (Kumo reports a failed operation's reason on the volume instead).
#  - test_volume_hosts: os-hosts.
#  - test_volume_quota_classes: os-quota-class-sets (defaults come from Kumo's config).
#  - test_volume_transfers, test_quota_usage_after_volume_transfer: volume transfers.
#  - VolumeServicesNegativeTest: os-services updates (enable/disable/freeze/thaw/failover).
#  - test_volume_type_encryption_create_get_update_delete: encryption types (no encrypted volumes).
#  - test_update_snapshot_status: os-update_snapshot_status, Nova's progress callback for assisted snapshots.
#  - test_snapshot_volume_backed_multiattach: createImage of a volume-backed server (Kumo snapshots image-backed ones only).
#  - tempest.api.compute.volumes test_volumes_get, test_volumes_list, test_volumes_negative,
#    test_volume_snapshots: Nova's os-volumes and os-snapshots proxies to Cinder (removed in 2.36).
export TEMPEST_EXCLUDE=${TEMPEST_EXCLUDE-'\.test_backends_capabilities\.|\.test_group_types\.|\.test_group_type_specs\.|\.test_groups\.|\.test_group_snapshots\.|\.test_qos\.|\.test_user_messages\.|\.test_volume_hosts\.|\.test_volume_quota_classes\.|\.test_volume_transfers\.|test_quota_usage_after_volume_transfer|VolumeServicesNegativeTest|test_volume_type_encryption_create_get_update_delete|test_update_snapshot_status|test_snapshot_volume_backed_multiattach|tempest\.api\.compute\.volumes\.test_(volumes_get|volumes_list|volumes_negative|volume_snapshots)\.'}
me=tempest-volume

. "$(dirname "${BASH_SOURCE[0]}")/lib/peer-tempest.sh"
. "$REPO/scripts/lib/vm-tempest.sh"
start_vm_tempest_kumo kumo-tempest-volume

SRC="$PEER/tempest.conf.template" DST="$HARNESS/tempest.conf.template" DEBUG=$DEBUG \
IMAGE_REF=$IMAGE_REF IMAGE_REF_ALT=$IMAGE_REF_ALT FLAVOR_REF=$FLAVOR_REF FLAVOR_REF_ALT=$FLAVOR_REF_ALT \
FIXED_NETWORK_NAME=$FIXED_NETWORK_NAME BUILD_TIMEOUT=$BUILD_TIMEOUT LIB=$REPO/scripts/lib python3 - <<'PY'
import os, sys
sys.path.insert(0, os.environ['LIB'])
from kumo_admin import write_tempest_conf
e = os.environ
settings = {
    'DEFAULT': {'debug': e['DEBUG']},
    'service_available': {'nova': 'true', 'glance': 'true', 'neutron': 'true', 'cinder': 'true',
                          'swift': 'false', 'horizon': 'false'},
    'volume': {
        'catalog_type': 'volumev3', 'endpoint_type': 'publicURL',
        'build_timeout': e['BUILD_TIMEOUT'], 'build_interval': '1',
        'min_microversion': '3.0', 'max_microversion': '3.70',
        'volume_size': '1', 'volume_size_extend': '1', 'disk_format': 'raw',
        # One backend per host, named like Cinder's host@backend; the driver writes raw files.
        'backend_names': 'kumo', 'storage_protocol': 'file', 'vendor_name': 'Kumo',
    },
    # What Kumo's Cinder does not have is off, so Tempest skips those tests itself.
    'volume-feature-enabled': {
        'snapshot': 'true', 'clone': 'true', 'extend_attached_volume': 'true',
        'backup': 'false', 'manage_volume': 'false', 'manage_snapshot': 'false',
        'multi_backend': 'false', 'extend_attached_encrypted_volume': 'false',
        # GET /extensions lists none (Cinder's legacy extension list is informational).
        'api_extensions': '',
    },
    'compute': {
        'catalog_type': 'compute', 'endpoint_type': 'publicURL',
        'image_ref': e['IMAGE_REF'], 'image_ref_alt': e['IMAGE_REF_ALT'],
        'flavor_ref': e['FLAVOR_REF'], 'flavor_ref_alt': e['FLAVOR_REF_ALT'],
        'fixed_network_name': e['FIXED_NETWORK_NAME'],
        'build_timeout': e['BUILD_TIMEOUT'], 'build_interval': '1',
        'min_compute_nodes': '1', 'max_microversion': 'latest',
    },
    'compute-feature-enabled': {
        'snapshot': 'true', 'resize': 'true', 'console_output': 'true',
        'volume_multiattach': 'true', 'attach_encrypted_volume': 'false', 'swap_volume': 'false',
        'shelve': 'false', 'shelve_migrate': 'false', 'cold_migration': 'false', 'live_migration': 'false',
        'block_migration_for_live_migration': 'false', 'rescue': 'false', 'stable_rescue': 'false',
        'disk_config': 'false', 'personality': 'false', 'change_password': 'false',
    },
    'image': {'catalog_type': 'image', 'endpoint_type': 'publicURL', 'build_timeout': e['BUILD_TIMEOUT']},
    'image-feature-enabled': {'api_v2': 'true', 'api_v1': 'false'},
    'network': {'catalog_type': 'network', 'endpoint_type': 'publicURL',
                'project_networks_reachable': 'false'},
    'network-feature-enabled': {'floating_ips': 'true'},
    'validation': {'run_validation': 'false'},
}
write_tempest_conf(e['SRC'], e['DST'], settings, 'scripts/tempest-volume.sh')
PY

run_peer_tempest_and_exit "$HARNESS/run-tempest.sh" "Kumo volume Tempest summary" "$COMPUTE_URL"
