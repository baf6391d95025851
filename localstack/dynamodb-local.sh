#!/usr/bin/env bash
# A standalone local DynamoDB without Docker, for other tools (the AWS CLI, a second service).
#
# Usage: localstack/dynamodb-local.sh start | stop | status | endpoint
#
#   start     build this repo's `dynamodb_server` example (the embedded engine, dynoxide, served
#             on 127.0.0.1) with cargo, start it in the background and wait until it answers
#             ListTables; prints the endpoint URL. Already running: prints the endpoint.
#   stop      stop the server `start` launched (TERM, then KILL after 5 s).
#   status    exit 0 and print the endpoint when running, exit 1 otherwise.
#   endpoint  print the endpoint URL.
#
# Environment:
#   DYNAMODB_LOCAL_PORT          port for `start` (default: 8000)
#   DYNAMODB_LOCAL_DB_PATH       keep the data in this SQLite file (default: in memory)
#   DYNAMODB_LOCAL_START_TIMEOUT seconds `start` waits for the server, build excluded (default: 60)
#   DYNAMODB_LOCAL_JAR           run Amazon's DynamoDB Local instead: the DynamoDBLocal.jar you
#                                downloaded yourself (needs Java 17+; JAVA_HOME or java on PATH).
#                                Amazon's licence terms apply to it, not an open-source licence.
#   DYNABAO_CACHE_DIR            where the pid, port and log files go, under run/
#                                (default: ${XDG_CACHE_HOME:-$HOME/.cache}/dynabao)
#
# The dynoxide server listens on 127.0.0.1 only. Amazon's jar binds every interface (it has no
# option to choose one) and, like dynoxide, checks no credentials: firewall its port on a machine
# reachable from networks you do not trust.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_DIR
readonly SERVER_EXAMPLE="dynamodb_server"

CACHE_ROOT="${DYNABAO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dynabao}"
RUN_DIR="${CACHE_ROOT}/run"
PORT="${DYNAMODB_LOCAL_PORT:-8000}"
# One set of files per port, so servers on two ports are started, checked and stopped apart.
PID_FILE="${RUN_DIR}/dynamodb-local-${PORT}.pid"
PORT_FILE="${RUN_DIR}/dynamodb-local-${PORT}.port"
LOG_FILE="${RUN_DIR}/dynamodb-local-${PORT}.log"
DB_PATH="${DYNAMODB_LOCAL_DB_PATH:-}"
START_TIMEOUT="${DYNAMODB_LOCAL_START_TIMEOUT:-60}"
JAR="${DYNAMODB_LOCAL_JAR:-}"
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

# Builds the server example and prints the path of its executable.
build_server() {
  need cargo "to build the ${SERVER_EXAMPLE} example; install Rust from https://rustup.rs"
  log "building the ${SERVER_EXAMPLE} example"
  cargo build --quiet --manifest-path "${REPO_DIR}/Cargo.toml" --example "$SERVER_EXAMPLE" >&2 ||
    die "cargo build --example ${SERVER_EXAMPLE} failed"
  local target
  target=$(cargo metadata --format-version 1 --no-deps --manifest-path "${REPO_DIR}/Cargo.toml" |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
  [[ -n $target ]] || die "cannot find cargo's target directory"
  local exe="${target}/debug/examples/${SERVER_EXAMPLE}"
  [[ -x $exe ]] || die "${exe} is missing after the build"
  printf '%s\n' "$exe"
}

# Prints the pid of the server `start` launched, if it is still running; removes stale files.
running_pid() {
  [[ -f $PID_FILE ]] || return 1
  local pid
  pid=$(<"$PID_FILE")
  # The command line must be ours (this server or Amazon's jar), not a process that reused the pid.
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    ps -p "$pid" -o args= 2>/dev/null | grep -Eq "${SERVER_EXAMPLE}|DynamoDBLocal"; then
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

# True when a DynamoDB answers ListTables on 127.0.0.1:$1. No local engine checks signatures, so
# the Authorization header is a fixed fake (complete, as dynoxide checks its parts are there).
readonly AUTH='AWS4-HMAC-SHA256 Credential=dynabao/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=0'
readonly AMZ_DATE='20240101T000000Z'
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
    -H "X-Amz-Date: ${AMZ_DATE}" \
    -H "Authorization: ${AUTH}" \
    --data '{}' 2>/dev/null) || return 1
  [[ $body == *'"TableNames"'* ]]
}

# Same request written by hand over bash's /dev/tcp; run it in a subshell (it opens fd 3).
probe_devtcp() {
  local line
  exec 3<>"/dev/tcp/127.0.0.1/$1" 2>/dev/null || return 1
  printf 'POST / HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}' \
    "$1" "$AMZ_DATE" "$AUTH" >&3 || return 1
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
  local -a command
  if [[ -n $JAR ]]; then
    [[ -f $JAR ]] || die "DYNAMODB_LOCAL_JAR names no file: ${JAR}"
    need "$JAVA" "Java 17 or newer to run ${JAR}; set JAVA_HOME or put java on PATH"
    [[ -z $DB_PATH ]] || die "DYNAMODB_LOCAL_DB_PATH is for the dynoxide server; unset it with DYNAMODB_LOCAL_JAR"
    local jar_dir
    jar_dir=$(cd "$(dirname "$JAR")" && pwd)
    # In memory, one database for every access key and region (-sharedDb), no telemetry calls.
    command=("$JAVA" -Djava.net.preferIPv4Stack=true "-Djava.library.path=${jar_dir}/DynamoDBLocal_lib"
      -jar "${jar_dir}/$(basename "$JAR")" -inMemory -sharedDb -disableTelemetry -port "$PORT")
  else
    local exe
    exe=$(build_server)
    command=("$exe" --port "$PORT")
    [[ -z $DB_PATH ]] || command+=(--db-path "$DB_PATH")
  fi
  if port_in_use "$PORT"; then
    die "port ${PORT} is already in use (another local DynamoDB?); set DYNAMODB_LOCAL_PORT"
  fi
  mkdir -p "$RUN_DIR"
  # Started from RUN_DIR so nothing is written elsewhere. nohup: survive the terminal.
  (
    cd "$RUN_DIR"
    exec nohup "${command[@]}" >"$LOG_FILE" 2>&1 </dev/null
  ) &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  printf '%s\n' "$PORT" >"$PORT_FILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE" "$PORT_FILE"
      log_tail
      die "the server exited before answering on port ${PORT}"
    fi
    if probe "$PORT" && kill -0 "$pid" 2>/dev/null; then
      log "started (pid ${pid}, log ${LOG_FILE})"
      endpoint_for "$PORT"
      return 0
    fi
    sleep 0.2
  done
  log_tail
  cmd_stop >/dev/null 2>&1 || true
  die "the server did not answer ListTables on port ${PORT} within ${START_TIMEOUT}s"
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
  if running_pid >/dev/null; then
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
