#!/bin/bash
# bench/containers/run.sh: containers started (API -> Running, each on its own Neutron port) and
# deleted per second by Kumo's Zun API and agent (runc under conmon, veth into a per-container netns,
# nftables security groups), side by side with the bare runc + netns + veth probe
# (/work/shared/tools/probe/ctr-bench.sh N C 1), in one run.
#
#   bash bench/containers/run.sh        (root, Debian 12; ~2-3 min with the defaults)
#
# What it does:
#   1. builds Kumo if dist/ is missing; starts a loopback docker-registry with busybox:latest pushed
#      (ctr.mjs image, the test support's registry.js); starts Kumo on a fresh data dir:
#      `node dist/kumo.mjs up --agent on --host bench-host --data-dir DIR --listen 127.0.0.1:PORT
#      --log-level $BENCH_LOG_LEVEL`;
#   2. as admin: container quotas and the port quota set to -1 (unlimited), a network + subnet
#      (10.78.0.0/16, DHCP on); one warm-up container (pulls and unpacks the image, brings up the
#      bridge/DHCP namespace) run to Running and deleted, untimed;
#   3. $BENCH_ROUNDS rounds, order alternating: kumo = ctr.mjs create (N POSTs
#      /container/v1/containers?run=true, C in flight, polling the list every $BENCH_POLL_MS ms until all
#      Running) then ctr.mjs delete (DELETE ?force=True, C in flight, until the list has none);
#      baseline = ctr-bench.sh N C 1 (its own rootfs, bridge prbr0, netns+veth, runc create/start), parsed
#      from its RESULT line, then the probe's cleanup.sh;
#   4. Kumo's RSS (VmRSS) before, with N Running, and after; with the debug log level, the agent's
#      `reconciled` passes (count, ms), the top debug messages during the create window, and each
#      container's time by stage (stages.mjs: POSTed, taken, port bound, port ACTIVE, root filesystem
#      mounted, created, started, seen Running) for each fifth of the round;
#   5. stops Kumo, runs purgeHostObjects(DATA) (dist/test/support/kumo-process.js) and checks that no
#      container, namespace, mount or process of this run is left. Raw JSON lines and logs:
#      /tmp/kumo-bench-containers/<timestamp>/.
#
# Env knobs [default]:
#   BENCH_N [200] (the issue's target is 1000)   BENCH_C [8]   BENCH_ROUNDS [1]   BENCH_POLL_MS [250]
#   BENCH_TIMEOUT [900] s per phase   BENCH_LOG_LEVEL [debug]   BENCH_ONLY [kumo,baseline]   BENCH_BUILD [auto|1|0]
#   BENCH_NODE_ARGS [] extra node flags for Kumo, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
#   BENCH_DHCP [1] 0: the subnet has no DHCP   BENCH_PORT_SECURITY [1] 0: the network has port security off (no nftables per port)
#   BENCH_LOOP [open] open: C POSTs in flight, all N asked for at once; closed: C workers, each waits for its container
#     to be Running before the next (what the bare script's workers do; the create->Running latency is then meaningful)
#   BENCH_HOLD_S [0] seconds to keep the N containers Running before the delete (to inspect them)
#   BENCH_WARMUP_N [1] containers created and deleted through Kumo before the timed rounds (1: the image pull and the
#     network's bridge and DHCP; N: also the kernel's and Kumo's first-time costs, which made a first round up to 25% slower)
#   BENCH_RUNTIME [runc] Kumo's OCI runtime (--container-runtime runc|crun); the baseline always uses runc
#   BENCH_MAIN [dist/kumo.mjs] another entry point, e.g. dist/src/cli/main.js (unbundled: readable profiles)
set -euo pipefail
export PATH=$PATH:/usr/sbin:/usr/bin:/sbin:/bin
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PROBE=${BENCH_PROBE_DIR:-/work/shared/tools/probe}
N=${BENCH_N:-200}; C=${BENCH_C:-8}; ROUNDS=${BENCH_ROUNDS:-1}; POLL_MS=${BENCH_POLL_MS:-250}
TIMEOUT=${BENCH_TIMEOUT:-900}; LOOP=${BENCH_LOOP:-open}; DHCP=$([ "${BENCH_DHCP:-1}" = 1 ] && echo true || echo false); PORT_SECURITY=$([ "${BENCH_PORT_SECURITY:-1}" = 1 ] && echo true || echo false); LEVEL=${BENCH_LOG_LEVEL:-debug}; ONLY=${BENCH_ONLY:-kumo,baseline}; DO_BUILD=${BENCH_BUILD:-auto}
HOST=bench-host
[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 4000 ]] || { echo "BENCH_N must be 1..4000" >&2; exit 2; }
[[ $C =~ ^[0-9]+$ && $C -ge 1 && $C -le 64 ]] || { echo "BENCH_C must be 1..64" >&2; exit 2; }
TS=$(date +%Y%m%d-%H%M%S)
OUT=/tmp/kumo-bench-containers/$TS; mkdir -p "$OUT"
JSONL=$OUT/results.jsonl; : > "$JSONL"
log() { echo "[bench/containers $(date +%T)] $*" >&2; }
emit() { echo "$1" >> "$JSONL"; }
has() { [[ ",$ONLY," == *",$1,"* ]]; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# CPU accounting in clock ticks: the host's busy and total time (/proc/stat), a process's own user+system time.
HZ=$(getconf CLK_TCK)
host_ticks() { awk '/^cpu /{ busy=$2+$3+$4+$7+$8+$9; print busy, busy+$5+$6 }' /proc/stat; }
proc_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12+$13}' || echo 0; }
# JSON: host CPU busy seconds and utilisation between two host_ticks readings, per container in ms; Kumo's own seconds if given.
cpu_json() { # "busy0 total0" "busy1 total1" n [kumo_ticks0 kumo_ticks1]
  local b0 t0 b1 t1; read -r b0 t0 <<< "$1"; read -r b1 t1 <<< "$2"
  jq -nc --argjson b "$((b1 - b0))" --argjson t "$((t1 - t0))" --argjson n "$3" --argjson hz "$HZ" --argjson k "${5:-0}" --argjson k0 "${4:-0}" \
    '{host_busy_s: ($b/$hz*10|round/10), host_util: (if $t > 0 then ($b/$t*100|round/100) else null end), host_ms_per_container: ($b/$hz*1000/$n|round), kumo_s: (($k-$k0)/$hz*10|round/10), kumo_ms_per_container: (($k-$k0)/$hz*1000/$n|round)}'
}
[ "$(id -u)" = 0 ] || { log "needs root"; exit 2; }
for t in curl jq runc conmon docker-registry bc; do command -v $t >/dev/null || { log "missing $t"; exit 2; }; done

KUMO_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
MAIN=${BENCH_MAIN:-$REPO/dist/kumo.mjs}
if [ "$DO_BUILD" = 1 ] || { [ "$DO_BUILD" = auto ] && { [ ! -f "$MAIN" ] || [ ! -f "$REPO/dist/test/support/registry.js" ]; }; }; then
  log "npm run build"; (cd "$REPO" && npm run build) > "$OUT/build.log" 2>&1 || { tail -n 30 "$OUT/build.log" >&2; exit 1; }
fi
DIST_TIME=$(date -r "$MAIN" -Is)
port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
KPORT=""; for _ in $(seq 1 50); do p=$((20000 + RANDOM % 20000)); if port_free "$p"; then KPORT=$p; break; fi; done
KURL=http://127.0.0.1:$KPORT
KDATA=$(mktemp -d "$OUT/data.XXXX")
TAG=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n'); PREFIX=kbc$TAG-
KPID=""; RPID=""; TOKEN=""
NS_BEFORE=$(ip netns list | grep -c . || true); CM_BEFORE=$(pgrep -c -x conmon || true)

stop_kumo() {
  [ -n "$KPID" ] || return 0
  kill -TERM "$KPID" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$KPID" 2>/dev/null && { log "Kumo did not stop on SIGTERM; SIGKILL"; kill -KILL "$KPID" 2>/dev/null || true; }
  wait "$KPID" 2>/dev/null || true; KPID=""
}
purge_kumo() {
  node --input-type=module -e 'const { purgeHostObjects } = await import(`${process.argv[1]}/dist/test/support/kumo-process.js`); await purgeHostObjects(process.argv[2]);' "$REPO" "$KDATA"
}
cleanup() {
  local rc=$?
  if [ -n "$KPID" ] && [ -n "$TOKEN" ]; then
    node "$HERE/ctr.mjs" delete --url "$KURL" --token "$TOKEN" --prefix "$PREFIX" --c "$C" --timeout-s 300 >/dev/null 2>&1 || true
  fi
  stop_kumo
  purge_kumo || log "purgeHostObjects failed"
  [ -n "$RPID" ] && { kill -TERM "$RPID" 2>/dev/null || true; wait "$RPID" 2>/dev/null || true; }
  bash "$PROBE/cleanup.sh" >/dev/null 2>&1 || true
  return $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------- 1. registry, Kumo ----------
node "$HERE/ctr.mjs" image --repo "$REPO" --ready-file "$OUT/registry" > "$OUT/registry.log" 2>&1 &
RPID=$!
for _ in $(seq 1 300); do [ -s "$OUT/registry" ] && break; kill -0 "$RPID" 2>/dev/null || { cat "$OUT/registry.log" >&2; exit 1; }; sleep 0.1; done
IMAGE="$(cat "$OUT/registry")/busybox:latest"
log "registry up, image $IMAGE"
node ${BENCH_NODE_ARGS:-} "$MAIN" up --agent on --container-runtime "${BENCH_RUNTIME:-runc}" --host "$HOST" --data-dir "$KDATA" --listen "127.0.0.1:$KPORT" --log-level "$LEVEL" > "$OUT/kumo.log" 2>&1 &
KPID=$!
t0=$SECONDS
until grep -q 'Kumo is up' "$OUT/kumo.log" 2>/dev/null; do
  kill -0 "$KPID" 2>/dev/null || { tail -n 30 "$OUT/kumo.log" >&2; log "Kumo exited during start"; KPID=""; exit 1; }
  [ $((SECONDS - t0)) -gt 60 ] && { log "Kumo not up within 60 s"; exit 1; }
  sleep 0.05
done
log "Kumo $KUMO_COMMIT (dist $DIST_TIME) up: pid $KPID, $KURL, data $KDATA, log level $LEVEL"

# ---------- 2. fixtures ----------
api() { # method path [json]
  local code
  code=$(curl -s -o "$OUT/api.body" -w '%{http_code}' -X "$1" -H "X-Auth-Token: $TOKEN" -H 'OpenStack-API-Version: container 1.40' ${3:+-H 'Content-Type: application/json' --data-binary "$3"} "$KURL$2")
  [ "${code:0:1}" = 2 ] || { log "$1 $2 -> HTTP $code: $(head -c 400 "$OUT/api.body")"; return 1; }
  cat "$OUT/api.body"
}
KPW=$(tr -d '\r\n' < "$KDATA/secrets/admin-password")
curl -s -D "$OUT/token.hdr" -o "$OUT/token.json" -H 'Content-Type: application/json' \
  -d "$(jq -nc --arg p "$KPW" '{auth:{identity:{methods:["password"],password:{user:{name:"admin",domain:{id:"default"},password:$p}}},scope:{project:{name:"admin",domain:{id:"default"}}}}}')" \
  "$KURL/identity/v3/auth/tokens"
TOKEN=$(awk -F': *' 'tolower($1)=="x-subject-token"{print $2}' "$OUT/token.hdr" | tr -d '\r\n')
PROJECT=$(jq -r .token.project.id "$OUT/token.json")
[ -n "$TOKEN" ] && [ "$PROJECT" != null ] || { log "no admin token"; exit 1; }
api PUT "/container/v1/quotas/$PROJECT" '{"containers":-1,"cpu":-1,"memory":-1,"disk":-1}' > /dev/null
api PUT "/network/v2.0/quotas/$PROJECT" '{"quota":{"port":-1}}' > /dev/null
NET=$(api POST /network/v2.0/networks "{\"network\":{\"name\":\"bench-ctr-net\",\"port_security_enabled\":$PORT_SECURITY}}" | jq -r .network.id)
SUBNET=$(api POST /network/v2.0/subnets "{\"subnet\":{\"network_id\":\"$NET\",\"cidr\":\"10.78.0.0/16\",\"ip_version\":4,\"enable_dhcp\":$DHCP}}" | jq -r .subnet.id)
WARM_N=${BENCH_WARMUP_N:-1}; WARM_C=$([ "$WARM_N" -gt 1 ] && echo "$C" || echo 1)
log "fixtures: network $NET, subnet $SUBNET; warm-up: $WARM_N container(s) (image pull + unpack, untimed)"
warm=$(node "$HERE/ctr.mjs" create --url "$KURL" --token "$TOKEN" --network "$NET" --image "$IMAGE" --prefix "${PREFIX}w" --n "$WARM_N" --c "$WARM_C" --poll-ms 250 --timeout-s "$TIMEOUT") || { log "warm-up failed: $warm"; tail -n 20 "$OUT/kumo.log" >&2; exit 1; }
node "$HERE/ctr.mjs" delete --url "$KURL" --token "$TOKEN" --prefix "${PREFIX}w" --c "$WARM_C" --poll-ms 250 --timeout-s "$TIMEOUT" > /dev/null
emit "{\"kind\":\"fixtures\",\"network\":\"$NET\",\"subnet\":\"$SUBNET\",\"image\":\"$IMAGE\",\"warmup\":$warm}"
sleep 2

# ---------- 3. rounds ----------
kumo_round() { # round
  local rb rr ra from to cr del prof
  rb=$(rss_kib "$KPID"); from=$(wc -l < "$OUT/kumo.log")
  log "kumo round $1: creating $N containers, C=$C"
  local h0 k0; h0=$(host_ticks); k0=$(proc_ticks "$KPID")
  cr=$(node "$HERE/ctr.mjs" create --url "$KURL" --token "$TOKEN" --network "$NET" --image "$IMAGE" --prefix "${PREFIX}r$1-" \
        --n "$N" --c "$C" --poll-ms "$POLL_MS" --timeout-s "$TIMEOUT" --loop "$LOOP" --times-out "$OUT/times-r$1.jsonl") || { log "kumo create failed: $cr"; exit 1; }
  local cpu; cpu=$(cpu_json "$h0" "$(host_ticks)" "$N" "$k0" "$(proc_ticks "$KPID")")
  to=$(wc -l < "$OUT/kumo.log"); rr=$(rss_kib "$KPID")
  local conmons; conmons=$(pgrep -c -f "conmon.*$KDATA" || true)
  [ "${BENCH_HOLD_S:-0}" -gt 0 ] && { log "holding $N Running containers for ${BENCH_HOLD_S} s"; sleep "$BENCH_HOLD_S"; }
  log "kumo round $1: $(echo "$cr" | jq -c '{containers_per_s,wall_s,running_p50_ms,running_p99_ms,post_p50_ms,post_p99_ms,errors}'), conmon processes $conmons, cpu $cpu"
  del=$(node "$HERE/ctr.mjs" delete --url "$KURL" --token "$TOKEN" --prefix "${PREFIX}r$1-" --c "$C" --poll-ms "$POLL_MS" --timeout-s "$TIMEOUT" --conmon-match "$KDATA") || { log "kumo delete failed: $del"; exit 1; }
  sleep 2; ra=$(rss_kib "$KPID")
  log "kumo round $1 delete: $del"
  prof=$(sed -n "$((from + 1)),${to}p" "$OUT/kumo.log" | jq -sc '[ .[] | objects ] as $l | [ $l[] | select(.msg == "reconciled") | .ms ] as $p
    | { passes: ($p|length), pass_ms_sum: ($p|add), pass_ms_max: ($p|max), pass_ms_p50: ($p|sort|.[(length/2|floor)]),
        top_msgs: ($l | group_by(.msg) | map({msg: .[0].msg, n: length}) | sort_by(-.n) | .[:12]) }' 2>/dev/null || echo null)
  emit "$(jq -nc --argjson r "$1" --argjson cr "$cr" --argjson del "$del" --argjson rb "$rb" --argjson rr "$rr" --argjson ra "$ra" --argjson prof "$prof" --argjson cm "$conmons" --argjson cpu "$cpu" --arg la "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '{kind:"kumo",round:$r,up:$cr,down:$del,rss_mib:{before:($rb/1024|.*10|round/10),running:($rr/1024|.*10|round/10),after:($ra/1024|.*10|round/10)},conmon_running:$cm,cpu_up:$cpu,profile:$prof,loadavg_after:$la}')"
}
baseline_round() {
  log "baseline round $1: ctr-bench.sh $N $C 1"
  local res h0 cpu
  h0=$(host_ticks)
  res=$(bash "$PROBE/ctr-bench.sh" "$N" "$C" 1 2>"$OUT/baseline-$1.err" | tee "$OUT/baseline-$1.out" | grep '^RESULT') || { log "baseline failed"; tail "$OUT/baseline-$1.err" >&2; exit 1; }
  # Up and down together: the probe runs both phases in one go.
  cpu=$(cpu_json "$h0" "$(host_ticks)" "$N")
  bash "$PROBE/cleanup.sh" > "$OUT/probe-cleanup-$1.txt" 2>&1 || true
  log "baseline round $1: $res; cpu (up+down) $cpu; $(tail -n1 "$OUT/probe-cleanup-$1.txt")"
  emit "$(echo "$res" | tr ' ' '\n' | grep = | sed 's/ms$//; s/\/s$//' | jq -cRn --argjson r "$1" --argjson cpu "$cpu" '[inputs | split("=") | {(.[0]): (.[1] | tonumber? // .)}] | add | {kind:"baseline",round:$r,cpu_up_and_down:$cpu} + .')"
}
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order="kumo baseline"; else order="baseline kumo"; fi
  for side in $order; do has "$side" || continue; "${side}_round" "$r"; sleep 3; done
done

# ---------- 4/5. stop, purge, check ----------
WARN=$(grep -c '"level":[4-6][0-9]' "$OUT/kumo.log" || true)
emit "{\"kind\":\"env\",\"date\":\"$(date -Is)\",\"node\":\"$(node --version)\",\"kernel\":\"$(uname -r)\",\"runc\":\"$(runc --version | head -1 | awk '{print $3}')\",\"conmon\":\"$(conmon --version | head -1 | awk '{print $3}')\",\"cpus\":$(nproc),\"kumo_head\":\"$KUMO_COMMIT\",\"kumo_runtime\":\"${BENCH_RUNTIME:-runc}\",\"dist_built\":\"$DIST_TIME\",\"n\":$N,\"c\":$C,\"rounds\":$ROUNDS,\"poll_ms\":$POLL_MS,\"log_level\":\"$LEVEL\",\"kumo_warn_or_worse_lines\":${WARN:-0}}"
trap - EXIT
cleanup || true
LEFT_CT=$(runc list -q 2>/dev/null | wc -l); LEFT_CM=$(pgrep -c -x conmon || true)
LEFT_MNT=$(grep -c -e "$KDATA" -e " /tmp/probe/" /proc/mounts || true)
LEFT_NS=$(ip netns list | grep -c . || true)
log "after cleanup: mounts of this run $LEFT_MNT; netns $NS_BEFORE before -> $LEFT_NS now, conmon $CM_BEFORE -> $LEFT_CM (host-wide: other users' count too); runc (default root) $LEFT_CT"

echo
echo "== bench/containers $(date -Is)  Kumo $KUMO_COMMIT (dist $DIST_TIME), runtime ${BENCH_RUNTIME:-runc}, N=$N, C=$C, $LOOP loop, $ROUNDS round(s), $(nproc) CPUs, Kumo log level $LEVEL =="
jq -rs '[.[] | select(.kind=="kumo")] as $k | [.[] | select(.kind=="baseline")] as $b
  | ($k[] | "kumo r\(.round): up \(.up.containers_per_s)/s (\(.up.wall_s) s), create->Running p50 \(.up.running_p50_ms) ms p99 \(.up.running_p99_ms) ms; down \(.down.containers_per_s)/s (\(.down.wall_s) s; host clean \(.down.host_clean_s) s = \(.down.host_containers_per_s)/s); RSS MiB before \(.rss_mib.before) running \(.rss_mib.running) after \(.rss_mib.after); agent passes \(.profile.passes // "-") sum \(.profile.pass_ms_sum // "-") ms"),
    ($b[] | "baseline r\(.round): up \(.up_rate)/s (\(.up_wall) ms), down \(.down_rate)/s (\(.down_wall) ms), running \(.running)"),
    (if ($k|length)>0 and ($b|length)>0 then "ratio Kumo/baseline up: \(($k|map(.up.containers_per_s)|add) / ($b|map(.up_rate)|add) * 100 | round / 100)x, down: \(($k|map(.down.containers_per_s)|add) / ($b|map(.down_rate)|add) * 100 | round / 100)x" else empty end)' "$JSONL"
if [ "$LEVEL" = debug ] && has kumo; then
  for r in $(seq 1 "$ROUNDS"); do [ -f "$OUT/times-r$r.jsonl" ] && { echo "kumo r$r, by stage (ms, p50/p99; bench/containers/stages.mjs):"; node "$HERE/stages.mjs" "$OUT" "$r" || true; }; done
fi
echo "raw: $JSONL"
