#!/bin/bash
# bench/identity/run.sh: Kumo's Keystone-v3 identity API against the real Keystone (Debian's Zed
# package, installed and started by the shared peer-keystone tools), side by side in one run.
#
#   bash bench/identity/run.sh
#
# What it does:
#   1. makes sure wrk/curl/jq and the peer Keystone are installed and running
#      ($PEER_TOOLS/setup.sh, default "$repo/../shared/tools/peer-keystone"; the peer stays up afterwards);
#   2. builds Kumo (npm run build), starts it on a fresh data dir and a free loopback port, and
#      measures spawn -> first 200 on GET /identity/v3 (curl polls every 10 ms); then stops it and
#      starts it again on the same data dir (a restart, no first-boot bootstrap) and measures again;
#   3. reads Kumo's RSS (VmRSS, summed over the process tree) after start and after the fixtures;
#   4. runs the same wrk scenarios at $BENCH_CONNS connections against both servers, alternating
#      Kumo and peer per scenario: validate, list (>= 100 projects), issue-token, issue-password;
#      each a ${BENCH_WARMUP}s unrecorded warm-up, then a ${BENCH_DURATION}s measured run; 127.0.0.1 only;
#      before each of the two it waits (<= 120 s) until the server is idle, so no backlog carries over;
#   5. prints a side-by-side table with ratios; raw JSON lines and logs go to /tmp/kumo-bench-identity/<ts>/.
#
# Env knobs [default]:
#   BENCH_DURATION [15]  BENCH_WARMUP [5]  BENCH_CONNS [16]  BENCH_THREADS [2] (wrk)  BENCH_RUNS [1]
#   BENCH_NPROJECTS [100]   BENCH_ONLY [validate,list,issue_token,issue_password]
#   BENCH_BUILD [1]         0 = use the existing dist/ as is
#   BENCH_PEER [1]          0 = Kumo only (no peer columns, no ratios)
#   BENCH_PEER_RESTART [0]  1 = restart an already running peer, so its cold start is measured in this run
#   BENCH_STATUS [0]        1 = count HTTP statuses in the measured runs too (always done in warm-ups)
#   PEER_TOOLS              where setup.sh lives;  KS_* env is passed through to setup.sh
#   KS_PORT [35357]  KS_ADMIN_PASSWORD [peer-admin-pw]  KS_STATE_DIR [/tmp/peer-keystone]
# Needs root for the peer's setup (apt, MariaDB). Loads are bounded: each wrk run is time-limited.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/usr/bin:/sbin:/bin   # keep the caller's node first; setup.sh sets its own PATH
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PEER_TOOLS=${PEER_TOOLS:-$REPO/../shared/tools/peer-keystone}

DUR=${BENCH_DURATION:-15}; WARM=${BENCH_WARMUP:-5}; CONNS=${BENCH_CONNS:-16}; THREADS=${BENCH_THREADS:-2}
RUNS=${BENCH_RUNS:-1}; NPROJ=${BENCH_NPROJECTS:-100}; ONLY=${BENCH_ONLY:-validate,list,issue_token,issue_password}
DO_BUILD=${BENCH_BUILD:-1}; DO_PEER=${BENCH_PEER:-1}; STATUS_MEASURED=${BENCH_STATUS:-0}
KS_PORT=${KS_PORT:-35357}; KS_PW=${KS_ADMIN_PASSWORD:-peer-admin-pw}; KS_STATE_DIR=${KS_STATE_DIR:-/tmp/peer-keystone}
PEER_BASE=http://127.0.0.1:$KS_PORT

TS=$(date +%Y%m%d-%H%M%S)
OUT=/tmp/kumo-bench-identity/$TS; mkdir -p "$OUT"
JSONL=$OUT/results.jsonl; : > "$JSONL"
log() { echo "[bench/identity] $*" >&2; }
emit() { echo "$1" >> "$JSONL"; }       # one JSON object per line
HZ=$(getconf CLK_TCK)

# ---------- process accounting (as in peer-keystone/load.sh) ----------
tree_pids() { local r=$1; [ -d /proc/$r ] || return 0; echo "$r"; for c in $(cat /proc/$r/task/*/children 2>/dev/null); do tree_pids "$c"; done; }
rss_kb() { local t=0 p r; for p in $(tree_pids "$1"); do r=$(awk '/^VmRSS/{print $2}' /proc/$p/status 2>/dev/null); t=$((t+${r:-0})); done; echo $t; }
nproc_tree() { tree_pids "$1" | wc -l; }
cpu_ticks() { local t=0 p v; for p in $(tree_pids "$1"); do v=$(awk '{print $14+$15+$16+$17}' /proc/$p/stat 2>/dev/null); t=$((t+${v:-0})); done; echo $t; }
host_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
now_ns() { date +%s%N; }

# ---------- 1. tools + peer ----------
for t in wrk curl jq; do
  command -v $t >/dev/null || { log "installing $t"; DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $t >&2; }
done
PEER_PID=""; DB_PID=""; PEER_STARTED_NOW=false; PEER_COLD=null
if [ "$DO_PEER" = 1 ]; then
  [ -x "$PEER_TOOLS/setup.sh" ] || { log "no $PEER_TOOLS/setup.sh (set PEER_TOOLS or BENCH_PEER=0)"; exit 2; }
  "$PEER_TOOLS/setup.sh" status >/dev/null 2>&1 || PEER_STARTED_NOW=true
  log "peer: $PEER_TOOLS/setup.sh (install if needed + start; can take minutes the first time)"
  "$PEER_TOOLS/setup.sh" > "$OUT/peer-setup.log" 2>&1 || { tail -n 30 "$OUT/peer-setup.log" >&2; log "peer setup failed"; exit 1; }
  if [ "${BENCH_PEER_RESTART:-0}" = 1 ] && ! $PEER_STARTED_NOW; then
    log "peer: restarting it to measure its cold start in this run (BENCH_PEER_RESTART=1)"
    "$PEER_TOOLS/setup.sh" restart >> "$OUT/peer-setup.log" 2>&1 || { tail -n 30 "$OUT/peer-setup.log" >&2; log "peer restart failed"; exit 1; }
    PEER_STARTED_NOW=true
  fi
  PEER_PID=$(cat "$KS_STATE_DIR/uwsgi.pid")
  [ -s "$KS_STATE_DIR/mysql/mysqld.pid" ] && DB_PID=$(cat "$KS_STATE_DIR/mysql/mysqld.pid")
  [ -s "$KS_STATE_DIR/cold_start_s" ] && PEER_COLD=$(cat "$KS_STATE_DIR/cold_start_s")
  log "peer up: $PEER_BASE/v3 master PID $PEER_PID ($(nproc_tree "$PEER_PID") processes), started in this run: $PEER_STARTED_NOW, cold start ${PEER_COLD}s"
fi

# ---------- 2. Kumo: build, free port, start -> first 200 ----------
# What was built: HEAD plus whether src/, test/ or package*.json had uncommitted changes at build time.
KUMO_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
KUMO_DIRTY=false; [ -n "$(git -C "$REPO" status --porcelain -- src test package.json package-lock.json 2>/dev/null)" ] && KUMO_DIRTY=true
log "Kumo build: HEAD $KUMO_COMMIT, uncommitted changes in src/test: $KUMO_DIRTY"
if [ "$DO_BUILD" = 1 ]; then
  log "npm run build"
  (cd "$REPO" && npm run build) > "$OUT/build.log" 2>&1 || { tail -n 30 "$OUT/build.log" >&2; log "build failed"; exit 1; }
fi
MAIN=$REPO/dist/kumo.mjs   # the `kumo` bin, as users run it
[ -f "$MAIN" ] || { log "no $MAIN (build first)"; exit 1; }
port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
KPORT=""
for _ in $(seq 1 50); do p=$((20000 + RANDOM % 20000)); if port_free "$p"; then KPORT=$p; break; fi; done
[ -n "$KPORT" ] || { log "no free port"; exit 1; }
KBASE=http://127.0.0.1:$KPORT/identity
KDATA=$(mktemp -d /tmp/kumo-bench-identity/$TS/data.XXXX)
KPID=""
cleanup() { if [ -n "$KPID" ] && kill -0 "$KPID" 2>/dev/null; then kill -TERM "$KPID" 2>/dev/null; sleep 0.5; kill -0 "$KPID" 2>/dev/null && kill -KILL "$KPID" 2>/dev/null; fi; return 0; }
trap cleanup EXIT

# start_kumo LABEL: spawns Kumo (sets KPID), polls GET /identity/v3 every 10 ms, emits a "start" line.
start_kumo() {
  local label=$1 code=000 t0 t1 polls=0
  t0=$(now_ns)
  node "$MAIN" up --data-dir "$KDATA" --listen "127.0.0.1:$KPORT" --log-level warn >> "$OUT/kumo-$label.log" 2>&1 &
  KPID=$!
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$KBASE/v3" || true)
    polls=$((polls+1))
    [ "$code" = 200 ] && break
    kill -0 "$KPID" 2>/dev/null || { cat "$OUT/kumo-$label.log" >&2; log "Kumo exited during start"; exit 1; }
    [ $(( ($(now_ns) - t0) / 1000000 )) -gt 60000 ] && { log "Kumo: no 200 on $KBASE/v3 within 60 s (last $code)"; exit 1; }
    sleep 0.01
  done
  t1=$(now_ns)
  local ms=$(( (t1 - t0) / 1000000 ))
  local self; self=$(for _ in 1 2 3 4 5 6 7 8 9 10; do s=$(sed -n 's/^Kumo is up in \([0-9]*\) ms.*/\1/p' "$OUT/kumo-$label.log" | tail -n1); [ -n "$s" ] && { echo "$s"; break; }; sleep 0.05; done)
  log "Kumo ($label) pid $KPID: spawn -> first 200 on GET /identity/v3 in $ms ms ($polls polls; it printed \"up in ${self:-?} ms\")"
  emit "{\"kind\":\"start\",\"server\":\"kumo\",\"label\":\"$label\",\"spawn_to_first_200_ms\":$ms,\"self_reported_ms\":${self:-null},\"polls\":$polls,\"loadavg\":\"$(loadavg)\"}"
}
stop_kumo() {
  kill -TERM "$KPID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$KPID" 2>/dev/null && { log "Kumo did not stop on SIGTERM; SIGKILL"; kill -KILL "$KPID"; }
  wait "$KPID" 2>/dev/null || true
  KPID=""
}
mem_line() { # server label pid
  local r; r=$(rss_kb "$3")
  emit "{\"kind\":\"mem\",\"server\":\"$1\",\"label\":\"$2\",\"rss_mib\":$(mib "$r"),\"nproc\":$(nproc_tree "$3"),\"loadavg\":\"$(loadavg)\"}"
  log "$1 RSS ($2): $(mib "$r") MiB over $(nproc_tree "$3") process(es)"
}

log "Kumo: fresh data dir $KDATA, port $KPORT"
start_kumo first-boot
sleep 2; mem_line kumo after-first-boot "$KPID"
stop_kumo
start_kumo restart
sleep 2; mem_line kumo after-start "$KPID"
KPW=$(tr -d '\r\n' < "$KDATA/secrets/admin-password")

# ---------- fixtures: tokens, >= N projects ----------
# issue BASE PASSWORD -> token on stdout (project-scoped admin, password method); body in $OUT/tok.json
auth_body_pw() { jq -nc --arg p "$1" '{auth:{identity:{methods:["password"],password:{user:{name:"admin",domain:{name:"Default"},password:$p}}},
                                         scope:{project:{name:"admin",domain:{name:"Default"}}}}}'; }
auth_body_tok() { jq -nc --arg t "$1" '{auth:{identity:{methods:["token"],token:{id:$t}},scope:{project:{name:"admin",domain:{name:"Default"}}}}}'; }
issue() {
  local code
  code=$(curl -s -o "$OUT/tok.json" -D "$OUT/tok.hdr" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @"$2" "$1/v3/auth/tokens")
  [ "$code" = 201 ] || { log "token issue at $1 failed: HTTP $code: $(head -c 400 "$OUT/tok.json")"; return 1; }
  awk -F': *' 'tolower($1)=="x-subject-token"{print $2}' "$OUT/tok.hdr" | tr -d '\r\n'
}
count_projects() { curl -s -H "X-Auth-Token: $2" "$1/v3/projects" | jq '.projects|length'; }
ensure_projects() { # base token server
  local have i=0 name code dom
  dom=$(jq -r '.token.project.domain.id' "$OUT/tok.json")
  have=$(count_projects "$1" "$2")
  while [ "$have" -lt "$NPROJ" ]; do
    name=$(printf 'benchproj-%03d' $i); i=$((i+1))
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-Auth-Token: $2" -H 'Content-Type: application/json' \
      -d "{\"project\":{\"name\":\"$name\",\"domain_id\":\"$dom\",\"description\":\"bench fixture\"}}" "$1/v3/projects")
    case $code in 201) have=$((have+1));; 409) ;; *) log "$3: project create $name -> HTTP $code"; exit 1;; esac
    [ $i -gt $((NPROJ*3)) ] && { log "$3: could not reach $NPROJ projects"; exit 1; }
  done
  count_projects "$1" "$2"
}
# per server: base url, password-body file, token-body file, admin token, subject token
setup_server() { # server base password
  local s=$1 base=$2 pw=$3
  auth_body_pw "$pw" > "$OUT/$s-auth-password.json"
  local adm subj tokbase np
  adm=$(issue "$base" "$OUT/$s-auth-password.json")
  subj=$(issue "$base" "$OUT/$s-auth-password.json")
  tokbase=$(issue "$base" "$OUT/$s-auth-password.json")
  auth_body_tok "$tokbase" > "$OUT/$s-auth-token.json"
  np=$(ensure_projects "$base" "$adm" "$s")
  log "$s: GET /v3/projects returns $np projects"
  emit "{\"kind\":\"fixtures\",\"server\":\"$s\",\"projects\":$np}"
  printf '%s\n%s\n' "$adm" "$subj" > "$OUT/$s-tokens"
}
chk() { # server scenario want curl-args...  (one request, status must match)
  local s=$1 sc=$2 want=$3 c; shift 3
  c=$(curl -s -o "$OUT/chk-$s-$sc.body" -w '%{http_code}' "$@")
  emit "{\"kind\":\"sanity\",\"server\":\"$s\",\"scenario\":\"$sc\",\"want\":$want,\"got\":$c}"
  [ "$c" = "$want" ] || log "SANITY $s $sc: want $want got $c: $(head -c 300 "$OUT/chk-$s-$sc.body") (continuing; see the errs column)"
}

SERVERS="kumo"; [ "$DO_PEER" = 1 ] && SERVERS="kumo peer"
base_of() { if [ "$1" = kumo ]; then echo "$KBASE"; else echo "$PEER_BASE"; fi; }
pid_of() { if [ "$1" = kumo ]; then echo "$KPID"; else echo "$PEER_PID"; fi; }
setup_server kumo "$KBASE" "$KPW"
[ "$DO_PEER" = 1 ] && setup_server peer "$PEER_BASE" "$KS_PW"

for s in $SERVERS; do
  b=$(base_of $s); { read -r ADM; read -r SUBJ; } < "$OUT/$s-tokens"
  chk $s validate 200 -H "X-Auth-Token: $ADM" -H "X-Subject-Token: $SUBJ" "$b/v3/auth/tokens"
  chk $s list 200 -H "X-Auth-Token: $ADM" "$b/v3/projects"
  chk $s issue_token 201 -X POST -H 'Content-Type: application/json' --data-binary @"$OUT/$s-auth-token.json" "$b/v3/auth/tokens"
  chk $s issue_password 201 -X POST -H 'Content-Type: application/json' --data-binary @"$OUT/$s-auth-password.json" "$b/v3/auth/tokens"
done

sleep 2
mem_line kumo idle-after-fixtures "$KPID"
[ "$DO_PEER" = 1 ] && mem_line peer idle-after-fixtures "$PEER_PID"
[ -n "$DB_PID" ] && mem_line peer-mariadb idle-after-fixtures "$DB_PID"

# ---------- 4. load ----------
# wait_idle PID: wrk leaves requests in flight when it stops (a queued password check keeps running),
# so before each warm-up and each measured run wait, up to 120 s, until the server's CPU use over
# 1 s is below 5% of a core: every run then starts against a drained server.
wait_idle() {
  local pid=$1 a b n=0 t0; t0=$(now_ns)
  while [ $n -lt 120 ]; do
    a=$(cpu_ticks "$pid"); sleep 1; b=$(cpu_ticks "$pid"); n=$((n+1))
    [ $(( (b - a) * 100 )) -lt $(( HZ * 5 )) ] && break
  done
  echo $(( ($(now_ns) - t0) / 1000000 ))
}
# run_wrk server scenario run url   (request shape in WRK_* env)
run_wrk() {
  local s=$1 sc=$2 run=$3 url=$4 pid; pid=$(pid_of "$s")
  local memf=$OUT/mem-$s-$sc-$run samp wj
  local idle_ms; idle_ms=$(wait_idle "$pid")
  if [ "$WARM" -gt 0 ]; then
    wj=$(WRK_STATUS=1 wrk -t"$THREADS" -c"$CONNS" -d"${WARM}s" --timeout 30s -s "$HERE/wrk.lua" "$url" 2>&1 | sed -n 's/^WRKJSON //p' || true)
    [ -n "$wj" ] && emit "$(echo "$wj" | jq -c --arg s "$s" --arg n "$sc" --argjson r "$run" '{kind:"warmup",server:$s,scenario:$n,run:$r,requests,rps,statuses,non2xx3xx,err_timeout,err_connect}')"
  fi
  [ "$WARM" -gt 0 ] && idle_ms=$((idle_ms + $(wait_idle "$pid")))
  local la; la=$(loadavg)
  ( mx=0; while :; do r=$(rss_kb "$pid"); [ "$r" -gt "$mx" ] && mx=$r; echo "$mx" > "$memf"; sleep 0.5; done ) &
  samp=$!
  local c0 c1 d0=0 d1=0 hb0 ht0 hb1 ht1
  c0=$(cpu_ticks "$pid"); [ "$s" = peer ] && [ -n "$DB_PID" ] && d0=$(cpu_ticks "$DB_PID")
  read -r hb0 ht0 < <(host_busy)
  local out; out=$(WRK_STATUS=$STATUS_MEASURED wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --timeout 30s --latency -s "$HERE/wrk.lua" "$url" 2>&1)
  read -r hb1 ht1 < <(host_busy)
  c1=$(cpu_ticks "$pid"); [ "$s" = peer ] && [ -n "$DB_PID" ] && d1=$(cpu_ticks "$DB_PID")
  kill "$samp" 2>/dev/null; wait "$samp" 2>/dev/null || true
  local j; j=$(echo "$out" | sed -n 's/^WRKJSON //p')
  [ -n "$j" ] || { echo "$out" >&2; log "wrk produced no result for $s $sc"; return 1; }
  local req; req=$(echo "$j" | jq .requests)
  local mx; mx=$(cat "$memf" 2>/dev/null || echo 0)
  local extra
  extra=$(awk -v c0="$c0" -v c1="$c1" -v d0="$d0" -v d1="$d1" -v hz="$HZ" -v req="$req" -v dur="$DUR" -v hb0="$hb0" -v ht0="$ht0" -v hb1="$hb1" -v ht1="$ht1" -v mx="$mx" \
    'BEGIN{printf "{\"server_cpu_ms_per_req\":%.3f,\"server_cpu_pct\":%.0f,\"db_cpu_ms_per_req\":%.3f,\"host_cpu_busy_pct\":%.0f,\"rss_max_mib\":%.1f}",
       (req>0?(c1-c0)*1000/hz/req:0), (c1-c0)*100/hz/dur, (req>0?(d1-d0)*1000/hz/req:0), ((ht1-ht0)>0?100*(hb1-hb0)/(ht1-ht0):0), mx/1024}')
  j=$(echo "$j" | jq -c --arg s "$s" --arg n "$sc" --argjson r "$run" --argjson c "$CONNS" --arg la "$la" --argjson x "$extra" --argjson w "$idle_ms" \
        '{kind:"wrk",server:$s,scenario:$n,run:$r,conns:$c,loadavg_before:$la,waited_for_idle_ms:$w} + . + $x')
  emit "$j"
  log "$(echo "$j" | jq -r '"\(.server) \(.scenario) run \(.run): \(.rps) req/s p50 \(.p50_ms) p99 \(.p99_ms) ms, non2xx \(.non2xx3xx), timeouts \(.err_timeout), cpu/req \(.server_cpu_ms_per_req) ms, load \(.loadavg_before)"')"
}

log "load: ${DUR}s measured after ${WARM}s warm-up, $CONNS connections, $THREADS wrk threads, $RUNS run(s), scenarios $ONLY"
for run in $(seq 1 "$RUNS"); do
  for sc in ${ONLY//,/ }; do
    for s in $SERVERS; do
      b=$(base_of $s); { read -r ADM; read -r SUBJ; } < "$OUT/$s-tokens"
      case $sc in
        validate) WRK_METHOD=GET WRK_BODY_FILE="" WRK_HDR_1="X-Auth-Token: $ADM" WRK_HDR_2="X-Subject-Token: $SUBJ" WRK_HDR_3="" \
                    run_wrk $s validate "$run" "$b/v3/auth/tokens" ;;
        list) WRK_METHOD=GET WRK_BODY_FILE="" WRK_HDR_1="X-Auth-Token: $ADM" WRK_HDR_2="" WRK_HDR_3="" \
                    run_wrk $s list "$run" "$b/v3/projects" ;;
        issue_token) WRK_METHOD=POST WRK_BODY_FILE="$OUT/$s-auth-token.json" WRK_HDR_1="Content-Type: application/json" WRK_HDR_2="" WRK_HDR_3="" \
                    run_wrk $s issue_token "$run" "$b/v3/auth/tokens" ;;
        issue_password) WRK_METHOD=POST WRK_BODY_FILE="$OUT/$s-auth-password.json" WRK_HDR_1="Content-Type: application/json" WRK_HDR_2="" WRK_HDR_3="" \
                    run_wrk $s issue_password "$run" "$b/v3/auth/tokens" ;;
        *) log "unknown scenario $sc"; exit 2 ;;
      esac
    done
  done
done

log "waited $(wait_idle "$KPID") ms for Kumo to go idle after the load"
sleep 2
mem_line kumo idle-after-load "$KPID"
[ "$DO_PEER" = 1 ] && mem_line peer idle-after-load "$PEER_PID"

# ---------- Kumo's log: anything at warn or above ----------
KLOG_LINES=$(cat "$OUT"/kumo-*.log | grep -c '"level":[4-6][0-9]' || true)
emit "{\"kind\":\"kumo_log\",\"warn_or_worse_lines\":${KLOG_LINES:-0}}"
emit "{\"kind\":\"env\",\"date\":\"$(date -Is)\",\"node\":\"$(node --version)\",\"kumo_commit_at_build\":\"$KUMO_COMMIT\",\"kumo_uncommitted_at_build\":$KUMO_DIRTY,\"kumo_built\":$( [ "$DO_BUILD" = 1 ] && echo true || echo false),\"cpus\":$(nproc),\"peer_cold_start_s\":$PEER_COLD,\"peer_started_in_this_run\":$PEER_STARTED_NOW,\"duration_s\":$DUR,\"warmup_s\":$WARM,\"conns\":$CONNS,\"wrk_threads\":$THREADS,\"loadavg_end\":\"$(loadavg)\"}"
cleanup; KPID=""

# ---------- 5. table ----------
echo
echo "== bench/identity $(date -Is)  Kumo $KUMO_COMMIT$($KUMO_DIRTY && echo '+uncommitted')  ($CONNS conns, ${DUR}s after ${WARM}s warm-up, $THREADS wrk threads, $(nproc) CPUs; latencies ms) =="
jq -rs --arg peer "$DO_PEER" '
  def f(x): if x == null then "-" else (x|tostring) end;
  def r2(x): (x*100|round)/100;
  [ .[] | select(.kind=="wrk") ] as $w
  | ($w | map(select(.server=="kumo")) ) as $k
  | $k[] | . as $a
  | ($w | map(select(.server=="peer" and .scenario==$a.scenario and .run==$a.run)) | .[0]) as $b
  | [ $a.scenario, $a.run, r2($a.rps), $a.p50_ms, $a.p99_ms, ($a.non2xx3xx+$a.err_timeout+$a.err_connect), $a.server_cpu_ms_per_req,
      f($b.rps), f($b.p50_ms), f($b.p99_ms), (if $b then ($b.non2xx3xx+$b.err_timeout+$b.err_connect) else "-" end),
      (if $b and $b.rps > 0 then (r2($a.rps/$b.rps)|tostring) + "x" else "-" end),
      (($a.loadavg_before|split(" ")[0]) + " / " + (if $b then ($b.loadavg_before|split(" ")[0]) else "-" end)) | tostring ] | @tsv' "$JSONL" |
  awk -F'\t' 'BEGIN{printf "%-15s %3s | %10s %8s %8s %5s %8s | %8s %9s %9s %5s | %9s | %s\n","scenario","run","kumo rps","p50","p99","errs","cpu/req","peer rps","p50","p99","errs","ratio","load1 before kumo / peer run";
                     print "----------------------------------------------------------------------------------------------------------------------------------"}
              {printf "%-15s %3s | %10s %8s %8s %5s %8s | %8s %9s %9s %5s | %9s | %s\n",$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13}'
echo
jq -r 'select(.kind=="start") | "start (\(.label)): spawn -> first 200 on GET /identity/v3 = \(.spawn_to_first_200_ms) ms (Kumo printed \"up in \(.self_reported_ms) ms\"), load \(.loadavg)"' "$JSONL"
[ "$DO_PEER" = 1 ] && echo "peer cold start (setup.sh: uwsgi launch -> first 200 on GET /v3, DB already up): ${PEER_COLD} s$( $PEER_STARTED_NOW || echo ' (from an earlier start; the peer was already running)')"
jq -r 'select(.kind=="mem") | "RSS \(.server) \(.label): \(.rss_mib) MiB (\(.nproc) processes)"' "$JSONL"
jq -r 'select(.kind=="wrk") | "RSS max under load \(.server) \(.scenario): \(.rss_max_mib) MiB"' "$JSONL"
jq -r 'select(.kind=="warmup" and (.statuses|length)>0) | "statuses \(.server) \(.scenario) (warm-up): \(.statuses|tojson)"' "$JSONL"
echo "Kumo log lines at warn or worse: $KLOG_LINES (logs: $OUT/kumo-*.log)"
echo "errs = non-2xx/3xx + timeouts + connect errors (wrk read errors on the peer are its EOF-delimited bodies, not failures)"
echo "raw: $JSONL"
