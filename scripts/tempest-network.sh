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

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEER=${PEER_KEYSTONE_DIR:-$REPO/../shared/tools/peer-keystone}
HOST=${KUMO_TEMPEST_HOST:-127.0.0.1}
LOG_LEVEL=${KUMO_TEMPEST_LOG_LEVEL:-info}
START_TIMEOUT=${KUMO_TEMPEST_START_TIMEOUT:-60}
PUBLIC_CIDR=${KUMO_TEMPEST_PUBLIC_CIDR:-172.24.4.0/24}
export TEMPEST_REGEXES=${TEMPEST_REGEXES:-'^tempest\.api\.network\.'}
export TEMPEST_CONCURRENCY=${TEMPEST_CONCURRENCY:-4}
me=tempest-network

[ -f "$PEER/run-tempest.sh" ] && [ -f "$PEER/tempest.conf.template" ] ||
  { echo "$me: $PEER/run-tempest.sh or tempest.conf.template not found (set PEER_KEYSTONE_DIR)" >&2; exit 2; }
PEER=$(cd "$PEER" && pwd)

# run-tempest.sh insists on keystone-tempest-plugin as well.
if ! command -v tempest >/dev/null 2>&1 || ! dpkg -s tempest keystone-tempest-plugin >/dev/null 2>&1; then
  echo "# installing tempest keystone-tempest-plugin"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=900 tempest keystone-tempest-plugin
fi

if [ ! -f "$REPO/dist/kumo.mjs" ]; then
  echo "# dist/kumo.mjs missing: npm run build"
  (cd "$REPO" && npm run build)
fi
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
KS="$PUBLIC/identity/v3" ADMIN_PASSWORD=$ADMIN_PASSWORD REGION=$REGION PUBLIC_CIDR=$PUBLIC_CIDR \
python3 - > "$SETUP_ENV" <<'PY'
import ipaddress, json, os, sys, urllib.error, urllib.request

def call(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header('Content-Type', 'application/json')
    req.add_header('Accept', 'application/json')
    if token:
        req.add_header('X-Auth-Token', token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, dict(r.headers), (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        sys.exit(f'tempest-network: {method} {url} -> {e.code}: {e.read().decode(errors="replace")[:500]}')

auth = {'auth': {'identity': {'methods': ['password'], 'password': {'user': {
    'name': 'admin', 'domain': {'name': 'Default'}, 'password': os.environ['ADMIN_PASSWORD']}}},
    'scope': {'project': {'name': 'admin', 'domain': {'name': 'Default'}}}}}
_, headers, body = call('POST', os.environ['KS'] + '/auth/tokens', auth)
token = {k.lower(): v for k, v in headers.items()}['x-subject-token']
region = os.environ['REGION']
net_url = None
for svc in body['token'].get('catalog', []):
    if svc.get('type') != 'network':
        continue
    eps = [e for e in svc.get('endpoints', []) if e.get('interface') == 'public']
    eps = [e for e in eps if e.get('region_id', e.get('region')) == region] or eps
    if eps:
        net_url = eps[0]['url'].rstrip('/')
if not net_url:
    sys.exit('tempest-network: no public network endpoint in the admin token catalog')
_, _, ext = call('GET', net_url + '/v2.0/extensions', token=token)
aliases = sorted(e['alias'] for e in ext['extensions'])
if not aliases:
    sys.exit('tempest-network: GET /v2.0/extensions listed no extensions')

cidr = ipaddress.ip_network(os.environ['PUBLIC_CIDR'])
hosts = list(cidr.hosts())
_, _, net = call('POST', net_url + '/v2.0/networks', {'network': {
    'name': 'public', 'router:external': True, 'shared': False,
    'provider:network_type': 'flat', 'provider:physical_network': 'public'}}, token)
net_id = net['network']['id']
call('POST', net_url + '/v2.0/subnets', {'subnet': {
    'name': 'public-subnet', 'network_id': net_id, 'ip_version': cidr.version, 'cidr': str(cidr),
    'gateway_ip': str(hosts[0]), 'enable_dhcp': False,
    'allocation_pools': [{'start': str(hosts[1]), 'end': str(hosts[-1])}]}}, token)
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
HARNESS=$TMP/harness
mkdir -p "$HARNESS"
ln -s "$PEER/run-tempest.sh" "$HARNESS/run-tempest.sh"
has_ext port-security && PORT_SECURITY=true || PORT_SECURITY=false
[ "${KUMO_TEMPEST_IPV6:-1}" = 1 ] && IPV6=true || IPV6=false
[ "${KUMO_TEMPEST_DEBUG:-1}" = 1 ] && DEBUG=true || DEBUG=false
SRC="$PEER/tempest.conf.template" DST="$HARNESS/tempest.conf.template" \
EXTENSIONS=$EXTENSIONS PUBLIC_NET_ID=$PUBLIC_NET_ID PUBLIC_NET_NAME=$PUBLIC_NET_NAME \
PORT_SECURITY=$PORT_SECURITY IPV6=$IPV6 DEBUG=$DEBUG python3 - <<'PY'
import configparser, os
e = os.environ
c = configparser.RawConfigParser(interpolation=None, strict=False)
c.optionxform = str
c.read(e['SRC'])
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
for section, opts in settings.items():
    if section != 'DEFAULT' and not c.has_section(section):
        c.add_section(section)
    for k, v in opts.items():
        c.set(section, k, v)
with open(e['DST'], 'w') as f:
    f.write('# generated by scripts/tempest-network.sh from ' + e['SRC'] + '\n')
    c.write(f)
PY

# run-tempest.sh takes the identity base *without* /v3. It runs in its own process group (setsid,
# pid in RT_PIDFILE) and we `wait` for it, so SIGINT/SIGTERM stops tempest and Kumo at once.
OUT=$TMP/run-tempest.out
set +e
(
  ADMIN_USER=admin ADMIN_PASSWORD=$ADMIN_PASSWORD ADMIN_PROJECT=admin DOMAIN=Default REGION=$REGION \
    setsid bash -c 'echo $$ > "$0"; exec bash "$1" "$2"' "$RT_PIDFILE" "$HARNESS/run-tempest.sh" "$PUBLIC/identity" 2>&1 | tee "$OUT"
  exit "${PIPESTATUS[0]}"
) &
wait "$!"; rt=$?
set -e

WORK=$(sed -n 's/^# workdir: \([^ ]*\).*/\1/p' "$OUT" | head -n 1)
echo
echo "================ Kumo network Tempest summary ================"
status=0
if [ -n "$WORK" ] && [ -s "$WORK/summary.txt" ]; then
  cat "$WORK/summary.txt"
  while read -r line; do
    case "$line" in
      *" failed=0 "*) ;;
      *" ran=? "*)
        tag=${line%%]*}; tag=${tag#[}
        if grep -q "regex doesn't match with anything" "$WORK/$tag.log" 2>/dev/null; then
          echo "note: [$tag] selected no tests (all excluded); not counted as a failure"
        else
          status=1
        fi ;;
      *) status=1 ;;
    esac
  done < <(grep '^\[r[0-9]*\] ' "$WORK/summary.txt")
  echo "Tempest work dir: $WORK   (tempest.conf, r*.log, r*.failed.txt, r*.skipped.txt, ws/tempest.log)"
else
  echo "run-tempest.sh produced no summary (exit $rt); its output: $OUT"
  status=1
fi
[ "$rt" -eq 0 ] || status=1
# Failures after Kumo stopped (connection refused) are not conformance results: say so.
if ! kill -0 "$KUMO_PID" 2>/dev/null; then
  echo "WARNING: Kumo (pid $KUMO_PID) was no longer running at the end of the run; tests after its" \
    "exit failed with 'Connection refused'. Its last log lines:"
  tail -n 3 "$KUMO_LOG"
  status=1
fi
echo "Kumo log: $KUMO_LOG   (pid $KUMO_PID, $NET_URL)"
exit "$status"
