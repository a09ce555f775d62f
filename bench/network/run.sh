#!/bin/bash
# bench/network/run.sh: ports created and plugged per second (API -> ACTIVE, with a security group)
# by Kumo's network service and agent, side by side with a shell script doing the same ip/nft steps
# (bench/network/baseline.sh), in one run.
#
#   bash bench/network/run.sh          (root, Debian 12; about a minute with the defaults)
#
# What it does:
#   1. builds Kumo if dist/kumo.mjs or dist/src is missing (npm run build), and starts it on a fresh
#      data dir and a free loopback port: `node dist/kumo.mjs up --agent on --host bench-host
#      --data-dir DIR --listen 127.0.0.1:PORT --log-level warn`;
#   2. as admin (token from POST /identity/v3/auth/tokens) creates a vxlan network, a subnet
#      (10.77.0.0/16, DHCP on), a security group with one ingress TCP rule (8080), and one anchor
#      port (a tap, in the group) and waits until it is ACTIVE: so the bridge, the vxlan device, the
#      DHCP namespace with dnsmasq and the host ruleset exist before anything is timed, as the
#      baseline's bridge and ruleset do;
#   3. runs $BENCH_ROUNDS rounds; each round runs both sides, the order alternating per round:
#      kumo:     N namespaces kbk-<tag>-<i> (one `ip -batch`, untimed), then ports.mjs creates N ports
#                (C POSTs in flight), each bound to bench-host with binding:profile {kumo_netns} and the
#                group, polling GET /network/v2.0/ports?network_id=..&fields=id&fields=status every
#                $BENCH_POLL_MS ms until all are ACTIVE; ports/s = N / (all ACTIVE - first POST); then
#                deletes them through the API, waits until no link of theirs is left, deletes the namespaces;
#      baseline: baseline.sh (its own bridge, vxlan device and ruleset from the driver's builder, N
#                namespaces kbn-<tag>-<i>, untimed; then N ports sequentially, 13 processes each; then
#                deletes everything);
#   4. profile (BENCH_PROFILE=1): restarts Kumo on the same data dir at --log-level debug, runs one
#      more Kumo round (not in the medians) and counts the agent's passes (`reconciled` with ms) and
#      `ip batch` lines; then, with the N ports in place, moves the store revision 5 times without
#      changing the host's desired state (renames the network) and reads those passes' ms: the
#      steady-state cost of one sync with N+1 ports;
#   5. stops Kumo, purges its host objects with the driver's removeAll (as test/support/kumo-process.ts
#      purgeHostObjects does) and prints medians and the Kumo/baseline ratio. Raw JSON lines and logs
#      go to /tmp/kumo-bench-network/<timestamp>/ (kinds: fixtures, kumo, kumo_cleanup, baseline,
#      profile, steady, env).
#
# Env knobs [default]:
#   BENCH_N [100] ports per round    BENCH_C [8] POSTs in flight    BENCH_ROUNDS [3]
#   BENCH_POLL_MS [50]    BENCH_ROUND_TIMEOUT [300] s, per create or delete
#   BENCH_BUILD [auto]    1 = always build, 0 = never (auto: only when dist/ is missing)
#   BENCH_PROFILE [1]     0 = skip step 4
#   BENCH_ONLY [kumo,baseline]
#   BENCH_KUMO [dist/kumo.mjs]  another entry point to run instead (e.g. an instrumented copy of dist/src/cli/main.js)
# Creates only objects named kbk-<tag>-*, kbn-<tag>-*, kbb<tag>, kbx<tag>, kbt<tag>*, nft tables
# kumo_kb<tag> (baseline) and what the bench's own Kumo owns; all of them are removed at exit.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/usr/bin:/sbin:/bin
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

N=${BENCH_N:-100}; C=${BENCH_C:-8}; ROUNDS=${BENCH_ROUNDS:-3}; POLL_MS=${BENCH_POLL_MS:-50}
TIMEOUT=${BENCH_ROUND_TIMEOUT:-300}; DO_BUILD=${BENCH_BUILD:-auto}; DO_PROFILE=${BENCH_PROFILE:-1}
ONLY=${BENCH_ONLY:-kumo,baseline}
HOST=bench-host
[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 4000 ]] || { echo "BENCH_N must be 1..4000" >&2; exit 2; }
[[ $C =~ ^[0-9]+$ && $C -ge 1 && $C -le 64 ]] || { echo "BENCH_C must be 1..64" >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 && $ROUNDS -le 20 ]] || { echo "BENCH_ROUNDS must be 1..20" >&2; exit 2; }

TS=$(date +%Y%m%d-%H%M%S)
OUT=/tmp/kumo-bench-network/$TS; mkdir -p "$OUT"
JSONL=$OUT/results.jsonl; : > "$JSONL"
log() { echo "[bench/network] $*" >&2; }
emit() { echo "$1" >> "$JSONL"; }       # one JSON object per line
HZ=$(getconf CLK_TCK)
tree_pids() { local r=$1; [ -d /proc/$r ] || return 0; echo "$r"; for c in $(cat /proc/$r/task/*/children 2>/dev/null); do tree_pids "$c"; done; }
# utime+stime+cutime+cstime: the reaped ip/nft children of Kumo are counted in its cutime/cstime.
cpu_ticks() { local t=0 p v; for p in $(tree_pids "$1"); do v=$(awk '{print $14+$15+$16+$17}' /proc/$p/stat 2>/dev/null); t=$((t+${v:-0})); done; echo $t; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
host_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# wait_quiet: on a shared host other work comes and goes; before each timed part, wait (<= 20 s)
# until the host's CPUs are under 15% busy over half a second. Prints the ms waited.
wait_quiet() {
  local b0 t0b b1 t1b n=0 start; start=$(date +%s%N)
  while [ $n -lt 40 ]; do
    read -r b0 t0b < <(host_busy); sleep 0.5; read -r b1 t1b < <(host_busy); n=$((n+1))
    [ $(( (b1 - b0) * 100 )) -lt $(( (t1b - t0b) * 15 )) ] && break
  done
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}
has() { [[ ",$ONLY," == *",$1,"* ]]; }

[ "$(id -u)" = 0 ] || { log "needs root (creates links, namespaces and nftables tables)"; exit 2; }
for t in curl jq nft ip; do
  command -v $t >/dev/null || { log "installing $t"; DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$( [ $t = ip ] && echo iproute2 || ([ $t = nft ] && echo nftables) || echo $t)" >&2; }
done
TAG=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
NS_PREFIX=kbk-$TAG-

# ---------- 1. build, start ----------
KUMO_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
KUMO_DIRTY=false; [ -n "$(git -C "$REPO" status --porcelain -- src package.json package-lock.json 2>/dev/null)" ] && KUMO_DIRTY=true
MAIN=${BENCH_KUMO:-$REPO/dist/kumo.mjs}
BUILT=false
if [ "$DO_BUILD" = 1 ] || { [ "$DO_BUILD" = auto ] && { [ ! -f "$MAIN" ] || [ ! -f "$REPO/dist/src/drivers/net/linux/nft-host.js" ]; }; }; then
  log "npm run build (HEAD $KUMO_COMMIT, uncommitted changes in src: $KUMO_DIRTY)"
  (cd "$REPO" && npm run build) > "$OUT/build.log" 2>&1 || { tail -n 30 "$OUT/build.log" >&2; log "build failed"; exit 1; }
  BUILT=true
fi
[ -f "$MAIN" ] || { log "no $MAIN (build first)"; exit 1; }
DIST_TIME=$(date -r "$MAIN" -Is)
log "Kumo: $MAIN built $DIST_TIME (HEAD now $KUMO_COMMIT, src dirty: $KUMO_DIRTY)"

port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
KPORT=""
for _ in $(seq 1 50); do p=$((20000 + RANDOM % 20000)); if port_free "$p"; then KPORT=$p; break; fi; done
[ -n "$KPORT" ] || { log "no free port"; exit 1; }
KURL=http://127.0.0.1:$KPORT
KDATA=$(mktemp -d "$OUT/data.XXXX")
OWNER=$(node -e 'process.stdout.write(require("crypto").createHash("sha256").update(process.argv[1]).digest("hex").slice(0,8))' "$KDATA")
KPID=""

stop_kumo() {
  [ -n "$KPID" ] || return 0
  kill -TERM "$KPID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$KPID" 2>/dev/null && { log "Kumo did not stop on SIGTERM; SIGKILL"; kill -KILL "$KPID" 2>/dev/null || true; }
  wait "$KPID" 2>/dev/null || true
  KPID=""
}
# The driver's removeAll for this data dir's owner: links, namespaces, tables, dnsmasq.
purge_kumo() {
  node --input-type=module -e '
    const [repo, owner, dir] = process.argv.slice(1);
    const { createNetDriver } = await import(`${repo}/dist/src/drivers/net/index.js`);
    const { createSilentLogger } = await import(`${repo}/dist/src/log.js`);
    await createNetDriver("linux", { owner, stateDir: `${dir}/network`, physicalBridges: {}, vxlanLocalIp: "127.0.0.1" }, createSilentLogger()).removeAll();
  ' "$REPO" "$OWNER" "$KDATA"
}
del_namespaces() { # prefix: only names this run created
  ip netns list | awk '{print $1}' | grep "^$1" | sed 's/^/netns del /' | ip -force -batch - 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_kumo
  purge_kumo || log "purge failed: check for links with alias kumo:$OWNER: and nft tables kumo_$OWNER"
  del_namespaces "$NS_PREFIX"
  # What an interrupted baseline.sh may have left (it cleans up after itself otherwise).
  del_namespaces "kbn-$TAG-"
  ip link del "kbx$TAG" 2>/dev/null || true
  ip link del "kbb$TAG" 2>/dev/null || true
  nft delete table bridge "kumo_kb$TAG" 2>/dev/null || true
  nft delete table inet "kumo_kb$TAG" 2>/dev/null || true
  return $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_kumo() { # log-level label
  node "$MAIN" up --agent on --host "$HOST" --data-dir "$KDATA" --listen "127.0.0.1:$KPORT" --log-level "$1" >> "$OUT/kumo-$2.log" 2>&1 &
  KPID=$!
  local t0=$SECONDS
  until grep -q 'Kumo is up' "$OUT/kumo-$2.log" 2>/dev/null; do
    kill -0 "$KPID" 2>/dev/null || { tail -n 30 "$OUT/kumo-$2.log" >&2; log "Kumo exited during start"; exit 1; }
    [ $((SECONDS - t0)) -gt 60 ] && { log "Kumo not up within 60 s"; exit 1; }
    sleep 0.05
  done
}
log "Kumo: data dir $KDATA, $KURL, owner label $OWNER, bench tag $TAG"
start_kumo warn main

# ---------- 2. fixtures ----------
TOKEN=""
api() { # method path [json] -> body on stdout; fails on >= 300
  local code
  code=$(curl -s -o "$OUT/api.body" -w '%{http_code}' -X "$1" -H "X-Auth-Token: $TOKEN" ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$KURL$2")
  [ "${code:0:1}" = 2 ] || { log "$1 $2 -> HTTP $code: $(head -c 400 "$OUT/api.body")"; return 1; }
  cat "$OUT/api.body"
}
KPW=$(tr -d '\r\n' < "$KDATA/secrets/admin-password")
TOKEN=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
  -d "$(jq -nc --arg p "$KPW" '{auth:{identity:{methods:["password"],password:{user:{name:"admin",domain:{id:"default"},password:$p}}},scope:{project:{name:"admin",domain:{id:"default"}}}}}')" \
  "$KURL/identity/v3/auth/tokens" | awk -F': *' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r\n')
[ -n "$TOKEN" ] || { log "no admin token"; exit 1; }
NET=$(api POST /network/v2.0/networks '{"network":{"name":"bench-net"}}' | jq -r .network.id)
SUBNET=$(api POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"cidr\":\"10.77.0.0/16\",\"ip_version\":4,\"enable_dhcp\":true}}" | jq -r .subnet.id)
SG=$(api POST /network/v2.0/security-groups '{"security_group":{"name":"bench-sg"}}' | jq -r .security_group.id)
api POST /network/v2.0/security-group-rules "{\"security_group_rule\":{\"security_group_id\":\"$SG\",\"direction\":\"ingress\",\"ethertype\":\"IPv4\",\"protocol\":\"tcp\",\"port_range_min\":8080,\"port_range_max\":8080}}" > /dev/null
ANCHOR=$(api POST /network/v2.0/ports "{\"port\":{\"network_id\":\"$NET\",\"name\":\"bench-anchor\",\"binding:host_id\":\"$HOST\",\"security_groups\":[\"$SG\"]}}" | jq -r .port.id)
for i in $(seq 1 300); do
  [ "$(api GET "/network/v2.0/ports/$ANCHOR" | jq -r .port.status)" = ACTIVE ] && break
  [ "$i" = 300 ] && { log "anchor port not ACTIVE within 30 s"; tail -n 20 "$OUT/kumo-main.log" >&2; exit 1; }
  sleep 0.1
done
NTYPE=$(api GET "/network/v2.0/networks/$NET" | jq -r '.network["provider:network_type"]')
log "fixtures: network $NET ($NTYPE), subnet $SUBNET (DHCP on), security group $SG (+1 ingress tcp rule), anchor port $ANCHOR ACTIVE"
emit "{\"kind\":\"fixtures\",\"network\":\"$NET\",\"network_type\":\"$NTYPE\",\"subnet\":\"$SUBNET\",\"security_group\":\"$SG\",\"anchor_port\":\"$ANCHOR\",\"owner\":\"$OWNER\",\"tag\":\"$TAG\"}"

# ---------- 3. rounds ----------
make_namespaces() { seq 0 $((N - 1)) | sed "s/^/netns add $NS_PREFIX/" | ip -batch -; }
kumo_round() { # round label
  make_namespaces
  local la c0 c1 res quiet
  quiet=$(wait_quiet)
  la=$(loadavg); c0=$(cpu_ticks "$KPID")
  res=$(node "$HERE/ports.mjs" create --url "$KURL" --token "$TOKEN" --network "$NET" --sg "$SG" --host "$HOST" --ns-prefix "$NS_PREFIX" \
          --n "$N" --c "$C" --poll-ms "$POLL_MS" --timeout-s "$TIMEOUT" --out "$OUT/ports-$2.json") || { log "kumo $2: $res"; exit 1; }
  c1=$(cpu_ticks "$KPID")
  # Every port really plugged: eth0 in its namespace with the port's MAC, its tap in the filtered set.
  local inns=0 filtered
  for i in $(seq 0 $((N - 1))); do ip -n "$NS_PREFIX$i" -o link show eth0 2>/dev/null | grep -q 'link/ether' && inns=$((inns + 1)); done
  filtered=$(nft -j list set bridge "kumo_$OWNER" filtered | jq '[.nftables[] | select(.set) | .set.elem // [] | length] | add')
  res=$(echo "$res" | jq -c --argjson r "$1" --arg l "$2" --arg la "$la" --argjson q "$quiet" --argjson cpu "$(awk -v a="$c0" -v b="$c1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)/hz}')" \
          --argjson inns "$inns" --argjson f "$filtered" \
          '{kind:"kumo",round:$r,label:$l,loadavg_before:$la,waited_quiet_ms:$q,kumo_cpu_s:$cpu,eth0_in_namespace:$inns,filtered_elements:$f} + .')
  emit "$res"
  log "$(echo "$res" | jq -r '"kumo \(.label): \(.ports_per_s) ports/s (\(.wall_s) s), POST->ACTIVE p50 \(.active_p50_ms) p99 \(.active_p99_ms) ms, POST p50 \(.post_p50_ms) ms, Kumo CPU \(.kumo_cpu_s) s, eth0 in \(.eth0_in_namespace) namespaces, \(.filtered_elements) filtered taps, load \(.loadavg_before)"')"
  local del
  del=$(node "$HERE/ports.mjs" delete --url "$KURL" --token "$TOKEN" --ids-file "$OUT/ports-$2.json" --owner "$OWNER" --c "$C" --timeout-s "$TIMEOUT") || { log "kumo $2 delete: $del"; exit 1; }
  emit "$(echo "$del" | jq -c --arg l "$2" '{kind:"kumo_cleanup",label:$l} + .')"
  del_namespaces "$NS_PREFIX"
}
baseline_round() { # round
  local la res quiet
  quiet=$(wait_quiet)
  la=$(loadavg)
  res=$(BASELINE_TAG=$TAG BASELINE_N=$N BASELINE_WAIT_QUIET=1 bash "$HERE/baseline.sh") || { log "baseline round $1 failed"; exit 1; }
  res=$(echo "$res" | jq -c --argjson r "$1" --arg la "$la" --argjson q "$quiet" '{kind:"baseline",round:$r,loadavg_before:$la,waited_quiet_ms:$q} + .')
  emit "$res"
  log "$(echo "$res" | jq -r '"baseline round \(.round): \(.ports_per_s) ports/s (\(.wall_s) s), per port p50 \(.port_p50_ms) p99 \(.port_p99_ms) ms, CPU \(.cpu_s) s, \(.plugged) plugged, eth0 in \(.eth0_in_namespace) namespaces, \(.filtered_elements) filtered, load \(.loadavg_before)"')"
}

log "rounds: $ROUNDS x ($ONLY), N=$N ports, C=$C POSTs in flight, polling every $POLL_MS ms"
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="kumo baseline"; else order="baseline kumo"; fi
  for side in $order; do
    has "$side" || continue
    if [ "$side" = kumo ]; then kumo_round "$r" "round$r"; else baseline_round "$r"; fi
  done
done

# ---------- 4. profile: the agent's passes, at debug level ----------
if [ "$DO_PROFILE" = 1 ] && has kumo; then
  log "profile: restarting Kumo at --log-level debug"
  stop_kumo
  start_kumo debug profile
  PLOG=$OUT/kumo-profile.log
  for _ in $(seq 1 600); do grep -q '"msg":"reconciled"' "$PLOG" && break; sleep 0.1; done   # the start-up pass
  grep -q '"msg":"reconciled"' "$PLOG" || { log "no agent pass within 60 s of the restart"; exit 1; }
  sleep 1
  from=$(wc -l < "$PLOG")
  make_namespaces
  wait_quiet > /dev/null
  node "$HERE/ports.mjs" create --url "$KURL" --token "$TOKEN" --network "$NET" --sg "$SG" --host "$HOST" --ns-prefix "$NS_PREFIX" \
    --n "$N" --c "$C" --poll-ms "$POLL_MS" --timeout-s "$TIMEOUT" --out "$OUT/ports-profile.json" > "$OUT/profile-create.json" || { log "profile round failed"; exit 1; }
  sleep 1
  prof=$(tail -n +"$((from + 1))" "$PLOG" | jq -sc --slurpfile res "$OUT/profile-create.json" '
    [ .[] | select(.msg == "reconciled") | .ms ] as $p | [ .[] | select(.msg == "ip batch applied") | .lines ] as $b
    | {kind:"profile", passes: ($p|length), pass_ms: $p, pass_ms_sum: ($p|add), ip_batch_lines: $b,
       dnsmasq_reloads: ([ .[] | select(.msg == "dnsmasq reloaded") ] | length), run: ($res[0] | del(.port_ids))}')
  emit "$prof"
  log "$(echo "$prof" | jq -r '"profile (debug log level, not in the medians): \(.run.ports_per_s) ports/s, \(.passes) agent passes of \(.pass_ms) ms, ip batch lines \(.ip_batch_lines)"')"
  # Steady state: the revision moves, the desired state of the host does not.
  from=$(wc -l < "$PLOG")
  for k in 1 2 3 4 5; do api PUT "/network/v2.0/networks/$NET" "{\"network\":{\"name\":\"bench-net-$k\"}}" > /dev/null; sleep 1; done
  steady=$(tail -n +"$((from + 1))" "$PLOG" | jq -sc --argjson n "$((N + 1))" '[ .[] | select(.msg == "reconciled") | .ms ] as $p
    | {kind:"steady", ports: $n, passes: ($p|length), pass_ms: $p, median_ms: ($p | sort | .[(length/2|floor)])}')
  emit "$steady"
  log "$(echo "$steady" | jq -r '"steady state with \(.ports) ports: \(.passes) no-op passes of \(.pass_ms) ms (median \(.median_ms))"')"
  del=$(node "$HERE/ports.mjs" delete --url "$KURL" --token "$TOKEN" --ids-file "$OUT/ports-profile.json" --owner "$OWNER" --c "$C" --timeout-s "$TIMEOUT") || { log "profile delete: $del"; exit 1; }
  del_namespaces "$NS_PREFIX"
fi

WARN_LINES=$(cat "$OUT"/kumo-*.log | grep -c '"level":[4-6][0-9]' || true)
emit "{\"kind\":\"env\",\"date\":\"$(date -Is)\",\"node\":\"$(node --version)\",\"kernel\":\"$(uname -r)\",\"nft\":\"$(nft --version | awk '{print $2}')\",\"iproute2\":\"$(ip -V | grep -o 'iproute2-[^ ,]*')\",\"cpus\":$(nproc),\"kumo_head\":\"$KUMO_COMMIT\",\"kumo_src_dirty\":$KUMO_DIRTY,\"dist_built\":\"$DIST_TIME\",\"built_now\":$BUILT,\"n\":$N,\"c\":$C,\"rounds\":$ROUNDS,\"poll_ms\":$POLL_MS,\"kumo_warn_or_worse_lines\":${WARN_LINES:-0},\"loadavg_end\":\"$(loadavg)\"}"
stop_kumo
purge_kumo
count() { "$@" 2>/dev/null || true; }   # a count that may be 0 (grep -c, pgrep exit 1 then)
LEFT=$(( $(count grep -c -e "kumo:$OWNER:" -e "kbt$TAG" -e "kbb$TAG" -e "kbx$TAG" < <(ip -o link show))
       + $(count grep -c -e "$NS_PREFIX" -e "kbn-$TAG-" -e "-$OWNER-" < <(ip netns list))
       + $(count grep -c -e "kumo_$OWNER" -e "kumo_kb$TAG" < <(nft list tables))
       + $(count pgrep -c -f "dnsmasq.*$KDATA") ))
[ "$LEFT" = 0 ] || log "WARNING: $LEFT host objects of this run are still there"

# ---------- 5. summary ----------
echo
echo "== bench/network $(date -Is)  Kumo $KUMO_COMMIT$($KUMO_DIRTY && echo '+uncommitted src') (dist $DIST_TIME), N=$N ports, C=$C, $ROUNDS rounds, $(nproc) CPUs =="
SUMMARY_JQ='
  def med: sort | if length == 0 then null elif length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
  def r2: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
  [ .[] | select(.kind == "kumo") ] as $k | [ .[] | select(.kind == "baseline") ] as $b'
tab() { if command -v column >/dev/null; then column -t -s $'\t'; else cat; fi; }
jq -rs "$SUMMARY_JQ"'
  | ( ["round", "side", "ports/s", "wall s", "p50 ms", "p99 ms", "CPU s", "load1"] | @tsv ),
    ( ($k + $b | sort_by(.round, .kind))[] | [ .round, .kind, .ports_per_s, .wall_s,
        (.active_p50_ms // .port_p50_ms), (.active_p99_ms // .port_p99_ms), (.kumo_cpu_s // .cpu_s), (.loadavg_before | split(" ")[0]) ] | @tsv )' "$JSONL" | tab
echo "(kumo p50/p99: POST -> ACTIVE per port; baseline p50/p99: one port's 13 steps; CPU: Kumo's process incl. its ip/nft children during the create run, the baseline's children during the timed loop)"
jq -rs "$SUMMARY_JQ"'
  | "median Kumo: \($k | map(.ports_per_s) | med | r2) ports/s, POST->ACTIVE p50 \($k | map(.active_p50_ms) | med | r2) ms, p99 \($k | map(.active_p99_ms) | med | r2) ms",
    "median baseline: \($b | map(.ports_per_s) | med | r2) ports/s, per port p50 \($b | map(.port_p50_ms) | med | r2) ms, p99 \($b | map(.port_p99_ms) | med | r2) ms",
    (if ($k|length) > 0 and ($b|length) > 0 then "ratio Kumo/baseline (medians): \((($k | map(.ports_per_s) | med) / ($b | map(.ports_per_s) | med)) | r2)x  (target >= 1.0x)" else empty end),
    ( .[] | select(.kind == "profile") | "profile (debug log level): \(.run.ports_per_s) ports/s in \(.passes) agent passes, ms \(.pass_ms | tostring), ip batch lines \(.ip_batch_lines | tostring)" ),
    ( .[] | select(.kind == "steady") | "steady-state pass with \(.ports) ports (nothing to change): median \(.median_ms) ms of \(.pass_ms | tostring)" )' "$JSONL"
echo "Kumo log lines at warn or worse: $WARN_LINES; host objects left: $LEFT"
echo "raw: $JSONL"
