# Sourced first by every scripts/tempest-*.sh (set -euo pipefail and `me` set): what they all share
# around the shared peer-keystone harness, from the preamble to the run and its summary.
#
# Sourcing sets REPO (this checkout), PEER, HOST, LOG_LEVEL and START_TIMEOUT from the env knobs
# each script's header lists (PEER_KEYSTONE_DIR, KUMO_TEMPEST_HOST, KUMO_TEMPEST_LOG_LEVEL,
# KUMO_TEMPEST_START_TIMEOUT).
# `prepare_peer_tempest FILE...` checks the harness (run-tempest.sh and tempest.conf.template) is in
# PEER and makes PEER absolute, installs Tempest and keystone-tempest-plugin if missing (run-tempest.sh
# insists on both), and builds dist/ when one of FILE (paths under REPO) is missing.
# `peer_tempest_harness_dir` (after start_throwaway_kumo) sets HARNESS, a directory holding a symlink
# to run-tempest.sh where the caller writes its own tempest.conf.template (the harness renders the
# template beside it and has no knob for the other services' sections), and DEBUG (true/false from
# KUMO_TEMPEST_DEBUG [1]).
# `run_peer_tempest_and_exit RUN_TEMPEST_SH TITLE URL` runs the harness, prints the summary and where
# Kumo's log is, and exits 0 only if the summary found no failure.
# `run_peer_tempest RUN_TEMPEST_SH` runs it (admin credentials and region from start_throwaway_kumo;
# TEMPEST_REGEXES / TEMPEST_CONCURRENCY / TEMPEST_EXCLUDE reach it through the environment) and sets
# OUT (its output), WORK (its work dir) and RT (its exit status).
# `peer_tempest_summary TITLE` prints the summary and returns 0 only if every run reported failed=0
# (a run that selected no tests because TEMPEST_EXCLUDE removed them all is not a failure), the
# harness exited 0 and Kumo was still running at the end.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PEER=${PEER_KEYSTONE_DIR:-$REPO/../shared/tools/peer-keystone}
HOST=${KUMO_TEMPEST_HOST:-127.0.0.1}
LOG_LEVEL=${KUMO_TEMPEST_LOG_LEVEL:-info}
START_TIMEOUT=${KUMO_TEMPEST_START_TIMEOUT:-60}

prepare_peer_tempest() {
  [ -f "$PEER/run-tempest.sh" ] && [ -f "$PEER/tempest.conf.template" ] ||
    { echo "$me: $PEER/run-tempest.sh or tempest.conf.template not found (set PEER_KEYSTONE_DIR)" >&2; exit 2; }
  PEER=$(cd "$PEER" && pwd)

  if ! command -v tempest >/dev/null 2>&1 || ! dpkg -s tempest keystone-tempest-plugin >/dev/null 2>&1; then
    echo "# installing tempest keystone-tempest-plugin"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=900 tempest keystone-tempest-plugin
  fi

  local f
  for f in "$@"; do
    if [ ! -f "$REPO/$f" ]; then
      echo "# $f missing: npm run build"
      (cd "$REPO" && npm run build)
      break
    fi
  done
}

peer_tempest_harness_dir() {
  HARNESS=$TMP/harness
  mkdir -p "$HARNESS"
  ln -s "$PEER/run-tempest.sh" "$HARNESS/run-tempest.sh"
  [ "${KUMO_TEMPEST_DEBUG:-1}" = 1 ] && DEBUG=true || DEBUG=false
}

run_peer_tempest_and_exit() {
  local status=0
  run_peer_tempest "$1"
  peer_tempest_summary "$2" || status=1
  echo "Kumo log: $KUMO_LOG   (pid $KUMO_PID, $3)"
  exit "$status"
}

run_peer_tempest() {
  local harness=$1
  OUT=$TMP/run-tempest.out
  # run-tempest.sh takes the identity base *without* /v3. It runs in its own process group
  # (setsid, pid in RT_PIDFILE) and we `wait` for it, so SIGINT/SIGTERM stops tempest and Kumo at once.
  set +e
  (
    ADMIN_USER=admin ADMIN_PASSWORD=$ADMIN_PASSWORD ADMIN_PROJECT=admin DOMAIN=Default REGION=$REGION \
      setsid bash -c 'echo $$ > "$0"; exec bash "$1" "$2"' "$RT_PIDFILE" "$harness" "$PUBLIC/identity" 2>&1 | tee "$OUT"
    exit "${PIPESTATUS[0]}"
  ) &
  wait "$!"; RT=$?
  set -e
  WORK=$(sed -n 's/^# workdir: \([^ ]*\).*/\1/p' "$OUT" | head -n 1)
}

peer_tempest_summary() {
  local status=0 line tag
  echo
  echo "================ $1 ================"
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
    echo "Tempest work dir: $WORK   (tempest.conf, r*.log, r*.failed.txt, r*.skipped.txt, ws/logs/tempest.log)"
  else
    echo "run-tempest.sh produced no summary (exit $RT); its output: $OUT"
    status=1
  fi
  [ "$RT" -eq 0 ] || status=1
  # Failures after Kumo stopped (connection refused) are not conformance results: say so.
  if ! kill -0 "$KUMO_PID" 2>/dev/null; then
    echo "WARNING: Kumo (pid $KUMO_PID) was no longer running at the end of the run; tests after its" \
      "exit failed with 'Connection refused'. Its last log lines:"
    tail -n 3 "$KUMO_LOG"
    status=1
  fi
  return "$status"
}
