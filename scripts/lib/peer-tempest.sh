# Sourced by the Tempest scripts after throwaway-kumo.sh: runs the shared peer-keystone harness
# against the throwaway Kumo and sums up its runs.
#
# `run_peer_tempest RUN_TEMPEST_SH` runs it (admin credentials and region from start_throwaway_kumo;
# TEMPEST_REGEXES / TEMPEST_CONCURRENCY / TEMPEST_EXCLUDE reach it through the environment) and sets
# OUT (its output), WORK (its work dir) and RT (its exit status).
# `peer_tempest_summary TITLE` prints the summary and returns 0 only if every run reported failed=0
# (a run that selected no tests because TEMPEST_EXCLUDE removed them all is not a failure), the
# harness exited 0 and Kumo was still running at the end.

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
