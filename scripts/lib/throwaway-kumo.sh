# Sourced by the Tempest scripts: a throwaway Kumo on a free loopback port and a temp data dir,
# stopped (with any run-tempest.sh process group in $RT_PIDFILE) when the script exits.
#
# Needs: REPO, HOST, LOG_LEVEL, START_TIMEOUT, me. Honours KUMO_TEMPEST_PORT, KUMO_TEMPEST_KEEP_DATA.
# `start_throwaway_kumo TMP_PREFIX [kumo up args...]` sets PORT, TMP, DATA, KUMO_LOG, PUBLIC,
# KUMO_PID, RT_PIDFILE, ADMIN_PASSWORD and REGION, and returns once GET /identity/v3 answers 200.

start_throwaway_kumo() {
  local prefix=$1; shift
  port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
  if [ -n "${KUMO_TEMPEST_PORT:-}" ]; then
    PORT=$KUMO_TEMPEST_PORT
    if port_busy "$PORT"; then echo "$me: $HOST:$PORT is already in use" >&2; exit 2; fi
  else
    PORT=5055
    while port_busy "$PORT"; do
      PORT=$((PORT + 1))
      [ "$PORT" -lt 5155 ] || { echo "$me: no free port in $HOST:5055-5154" >&2; exit 2; }
    done
  fi

  TMP=$(mktemp -d "/tmp/$prefix.XXXXXX")
  DATA=$TMP/data
  KUMO_LOG=$TMP/kumo.log
  PUBLIC=http://$HOST:$PORT
  KUMO_PID=
  RT_PIDFILE=$TMP/run-tempest.pid

  trap throwaway_kumo_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  echo "# starting Kumo on $PUBLIC (data dir $DATA, log $KUMO_LOG)"
  (cd "$REPO" && exec env -u KUMO_PUBLIC_URL -u KUMO_LISTEN -u KUMO_DATA_DIR \
    node dist/kumo.mjs up --data-dir "$DATA" --listen "$HOST:$PORT" --public-url "$PUBLIC" \
    --log-level "$LOG_LEVEL" "$@") > "$KUMO_LOG" 2>&1 &
  KUMO_PID=$!

  t0=$(date +%s)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$PUBLIC/identity/v3" 2>/dev/null || true)" = 200 ]; do
    if ! kill -0 "$KUMO_PID" 2>/dev/null; then
      echo "$me: Kumo exited before answering; last log lines:" >&2
      tail -n 30 "$KUMO_LOG" >&2
      exit 1
    fi
    if [ $(($(date +%s) - t0)) -ge "$START_TIMEOUT" ]; then
      echo "$me: GET $PUBLIC/identity/v3 is not 200 after ${START_TIMEOUT}s; last log lines:" >&2
      tail -n 30 "$KUMO_LOG" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "# Kumo is up (pid $KUMO_PID) after $(($(date +%s) - t0)) s"

  PW_FILE=$DATA/secrets/admin-password
  [ -s "$PW_FILE" ] || { echo "$me: $PW_FILE missing" >&2; exit 1; }
  ADMIN_PASSWORD=$(tr -d '\n' < "$PW_FILE")
  REGION=RegionOne
  if [ -f "$DATA/clouds.yaml" ]; then
    r=$(sed -n 's/^ *region_name: *//p' "$DATA/clouds.yaml" | head -n 1 | tr -d "\"'")
    [ -n "$r" ] && REGION=$r
  fi
}

throwaway_kumo_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -s "$RT_PIDFILE" ]; then
    local rt_pid; rt_pid=$(cat "$RT_PIDFILE")
    if kill -0 "$rt_pid" 2>/dev/null; then
      echo "# stopping run-tempest.sh (process group $rt_pid)" >&2
      kill -TERM -- "-$rt_pid" 2>/dev/null || true
    fi
  fi
  if [ -n "$KUMO_PID" ] && kill -0 "$KUMO_PID" 2>/dev/null; then
    kill -TERM "$KUMO_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$KUMO_PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$KUMO_PID" 2>/dev/null; then
      echo "# Kumo (pid $KUMO_PID) ignored SIGTERM for 10 s: SIGKILL" >&2
      kill -KILL "$KUMO_PID" 2>/dev/null || true
    fi
    wait "$KUMO_PID" 2>/dev/null || true
  fi
  # A script whose Kumo made host objects that outlive it (QEMU guests, bridges) removes them here.
  if declare -F throwaway_kumo_after_stop >/dev/null; then throwaway_kumo_after_stop || true; fi
  if [ "${KUMO_TEMPEST_KEEP_DATA:-0}" = 1 ]; then
    echo "# Kumo data dir kept: $DATA"
  else
    rm -rf "$DATA"
  fi
  echo "# Kumo log: $KUMO_LOG"
  exit "$rc"
}
