#!/bin/bash
# Run Tempest's network API tests (tempest.api.network) against a throwaway Kumo.
#
# Usage:  scripts/tempest-network.sh            (from anywhere; builds dist/kumo.mjs if missing)
#
# It starts `node dist/kumo.mjs up --agent off` on a fresh temp data dir and a free loopback
# port, waits for GET /identity/v3 to answer 200, then as admin reads the network endpoint
# from the catalog, reads the extension aliases Kumo lists (GET /network/v2.0/extensions) and
# creates the public network (flat, router:external, shared=false) with a subnet. It then
# runs the shared peer-keystone harness (../shared/tools/peer-keystone/run-tempest.sh, beside
# the clone) unmodified: the harness renders the tempest.conf.template that sits beside it,
# and it has no knob for the [network*] sections, so we give it a private directory holding a
# symlink to run-tempest.sh and our own template (the harness's identity-only template with
# [service_available] neutron=true, [network] and [network-feature-enabled] filled in).
# Kumo is stopped on exit. Exit status: 0 only if every test run reported failed=0.
#
# Env knobs [default]:
#   KUMO_TEMPEST_PORT [first free port from 5055]  a set port must be free, or we fail
#   KUMO_TEMPEST_HOST [127.0.0.1]
#   KUMO_TEMPEST_LOG_LEVEL [info]        Kumo's --log-level (4xx are logged at info)
#   KUMO_TEMPEST_START_TIMEOUT [60]      seconds to wait for GET /identity/v3 -> 200
#   KUMO_TEMPEST_KEEP_DATA [0]           1 keeps the temp data dir (SQLite db, secrets)
#   KUMO_TEMPEST_DEBUG [1]               Tempest's [DEFAULT] debug: 1 logs every request and
#                                        response body in ws/logs/tempest.log (for triage)
#   KUMO_TEMPEST_IPV6 [1]                [network-feature-enabled] ipv6 (static IPv6 subnets;
#                                        ipv6_subnet_attributes, i.e. RA/SLAAC modes, stays false)
#   KUMO_TEMPEST_PUBLIC_CIDR [172.24.4.0/24]   the public network's subnet
#   PEER_KEYSTONE_DIR [<repo>/../shared/tools/peer-keystone]
#   KUMO_DATABASE_URL                    passed through to Kumo (PostgreSQL instead of SQLite)
#   TEMPEST_REGEXES [^tempest\.api\.network\.]  passed to run-tempest.sh
#   TEMPEST_CONCURRENCY [4]              passed to run-tempest.sh. The run is mostly sleeping:
#                                        Tempest 33's subnets_client.delete_subnet sleeps 10 s first.
#   TEMPEST_EXCLUDE [computed]           classes whose extension Kumo does not list and that
#                                        Tempest does not skip by itself: AgentManagementNegativeTest
#                                        unless 'agent' is listed, TagsExtTest (needs subnetpools)
#                                        unless 'subnet_allocation' is; set it to '' to run everything
# Output: Kumo's log under /tmp/kumo-tempest-net.*/kumo.log (4xx at info, with reqId = Tempest's
# x-openstack-request-id), Tempest's work dir (rendered tempest.conf, r1.log, subunit, failed/
# skipped lists, ws/tempest.log with every request and response) under
# /tmp/peer-keystone-tempest/run-*/. Both paths are printed.
set -euo pipefail

PUBLIC_CIDR=${KUMO_TEMPEST_PUBLIC_CIDR:-172.24.4.0/24}
export TEMPEST_REGEXES=${TEMPEST_REGEXES:-'^tempest\.api\.network\.'}
export TEMPEST_CONCURRENCY=${TEMPEST_CONCURRENCY:-4}
me=tempest-network

. "$(dirname "${BASH_SOURCE[0]}")/lib/peer-tempest.sh"
prepare_peer_tempest dist/kumo.mjs
# The local agent would drive this host's networking (bridges, namespaces) when run as root.
# Tempest's API tests need none of it. Builds before the flag existed have no agent at all.
AGENT_ARGS=()
if node "$REPO/dist/kumo.mjs" --help 2>&1 | grep -q -- '--agent'; then
  AGENT_ARGS=(--agent off)
else
  echo "# this build of dist/kumo.mjs has no --agent flag (and no agent): starting without it"
fi

. "$REPO/scripts/lib/throwaway-kumo.sh"
start_throwaway_kumo kumo-tempest-net "${AGENT_ARGS[@]}"

# As admin: the network endpoint from the catalog, the extension aliases, the public network.
# Writes KEY=VALUE lines (NET_URL, EXTENSIONS, PUBLIC_NET_ID, PUBLIC_NET_NAME) to $TMP/setup.env.
SETUP_ENV=$TMP/setup.env
ME=$me LIB=$REPO/scripts/lib KS="$PUBLIC/identity/v3" ADMIN_PASSWORD=$ADMIN_PASSWORD REGION=$REGION PUBLIC_CIDR=$PUBLIC_CIDR \
python3 - > "$SETUP_ENV" <<'PY'
import ipaddress, os, sys
sys.path.insert(0, os.environ['LIB'])
from kumo_admin import Admin

admin = Admin(os.environ['KS'], os.environ['ADMIN_PASSWORD'], os.environ['REGION'])
call = admin.call
net_url = admin.endpoint('network')
_, _, ext = call('GET', net_url + '/v2.0/extensions')
aliases = sorted(e['alias'] for e in ext['extensions'])
if not aliases:
    sys.exit('tempest-network: GET /v2.0/extensions listed no extensions')

cidr = ipaddress.ip_network(os.environ['PUBLIC_CIDR'])
hosts = list(cidr.hosts())
_, _, net = call('POST', net_url + '/v2.0/networks', {'network': {
    'name': 'public', 'router:external': True, 'shared': False,
    'provider:network_type': 'flat', 'provider:physical_network': 'public'}})
net_id = net['network']['id']
call('POST', net_url + '/v2.0/subnets', {'subnet': {
    'name': 'public-subnet', 'network_id': net_id, 'ip_version': cidr.version, 'cidr': str(cidr),
    'gateway_ip': str(hosts[0]), 'enable_dhcp': False,
    'allocation_pools': [{'start': str(hosts[1]), 'end': str(hosts[-1])}]}})
print(f'NET_URL={net_url}')
print(f'EXTENSIONS={",".join(aliases)}')
print(f'PUBLIC_NET_ID={net_id}')
print('PUBLIC_NET_NAME=public')
PY
# shellcheck disable=SC1090
. "$SETUP_ENV"
echo "# network endpoint: $NET_URL"
echo "# extensions Kumo lists: $EXTENSIONS"
echo "# public network: $PUBLIC_NET_NAME $PUBLIC_NET_ID ($PUBLIC_CIDR)"

has_ext() { case ",$EXTENSIONS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# Default excludes: classes testing an extension Kumo does not list that Tempest runs anyway
# (every other such class checks api_extensions in skip_checks and is reported as skipped).
if [ -z "${TEMPEST_EXCLUDE+set}" ]; then
  ex=()
  has_ext agent || ex+=('AgentManagementNegativeTest')   # test_list_agents_non_admin: GET /v2.0/agents
  # TagsExtTest runs when standard-attr-tag is listed, but its setUpClass creates a subnetpool
  # (POST /v2.0/subnetpools) unconditionally, so without subnet_allocation the whole class errors.
  has_ext subnet_allocation || ex+=('TagsExtTest')
  TEMPEST_EXCLUDE=$(IFS='|'; echo "${ex[*]}")
fi
export TEMPEST_EXCLUDE
echo "# TEMPEST_REGEXES=$TEMPEST_REGEXES TEMPEST_EXCLUDE=$TEMPEST_EXCLUDE"

# Our template: the harness's identity template (its @PLACEHOLDERS@ are still rendered by the
# harness) with the network sections set. configparser keeps each section once.
peer_tempest_harness_dir
has_ext port-security && PORT_SECURITY=true || PORT_SECURITY=false
[ "${KUMO_TEMPEST_IPV6:-1}" = 1 ] && IPV6=true || IPV6=false
SRC="$PEER/tempest.conf.template" DST="$HARNESS/tempest.conf.template" \
EXTENSIONS=$EXTENSIONS PUBLIC_NET_ID=$PUBLIC_NET_ID PUBLIC_NET_NAME=$PUBLIC_NET_NAME \
PORT_SECURITY=$PORT_SECURITY IPV6=$IPV6 DEBUG=$DEBUG LIB=$REPO/scripts/lib python3 - <<'PY'
import os, sys
sys.path.insert(0, os.environ['LIB'])
from kumo_admin import write_tempest_conf
e = os.environ
settings = {
    'DEFAULT': {'debug': e['DEBUG']},
    'service_available': {'neutron': 'true', 'nova': 'false', 'cinder': 'false',
                          'glance': 'false', 'swift': 'false', 'horizon': 'false'},
    'network': {
        'catalog_type': 'network',
        'endpoint_type': 'publicURL',
        'public_network_id': e['PUBLIC_NET_ID'],
        'floating_network_name': e['PUBLIC_NET_NAME'],
        'project_network_cidr': '10.100.0.0/16',
        'project_network_mask_bits': '28',
        'project_network_v6_cidr': '2001:db8::/48',
        'project_network_v6_mask_bits': '64',
        'project_networks_reachable': 'false',
        'shared_physical_network': 'false',
    },
    'network-feature-enabled': {
        'api_extensions': e['EXTENSIONS'],
        'ipv6': e['IPV6'],
        # ipv6_ra_mode / ipv6_address_mode (SLAAC, DHCPv6) are not supported.
        'ipv6_subnet_attributes': 'false',
        'port_security': e['PORT_SECURITY'],
        'port_admin_state_change': 'true',
        'floating_ips': 'true',
    },
}
write_tempest_conf(e['SRC'], e['DST'], settings, 'scripts/tempest-network.sh')
PY

run_peer_tempest_and_exit "$HARNESS/run-tempest.sh" "Kumo network Tempest summary" "$NET_URL"
