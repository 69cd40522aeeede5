#!/usr/bin/env bash
# Runs a private, loopback-only Prosody that stands in for the Finesse notification service
# (Openfire) in tests and demos. The config comes from prosody.cfg.lua.in next to this script.
#
#   run-prosody.sh DIR [PORT]   start Prosody with its config, data and logs in DIR; PORT is
#                               picked free when omitted; prints "PORT=... PID=..."
#   run-prosody.sh stop DIR     stop the Prosody started in DIR (SIGTERM, then SIGKILL after 5 s)
#
# Environment: DOMAIN (default finesse.local). Pubsub is pubsub.$DOMAIN, admin is admin@$DOMAIN.
#
# Accounts (the Rust helper switchboard-testkit creates its own; by hand):
#   prosodyctl --config DIR/prosody.cfg.lua register USER finesse.local PASS
# for example the admin, who alone may create pubsub nodes:
#   prosodyctl --config DIR/prosody.cfg.lua register admin finesse.local adminpass
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
template="$here/prosody.cfg.lua.in"
domain="${DOMAIN:-finesse.local}"

die() { echo "run-prosody.sh: $*" >&2; exit 1; }
usage() { die "usage: run-prosody.sh DIR [PORT] | run-prosody.sh stop DIR"; }

# Stops the Prosody whose PID is in DIR/prosody.pid: SIGTERM, wait up to 5 s, then SIGKILL.
stop() {
  local dir="$1" pid
  [ -f "$dir/prosody.pid" ] || die "no $dir/prosody.pid: nothing to stop"
  pid="$(cat "$dir/prosody.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] || die "$dir/prosody.pid does not hold a PID"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run-prosody.sh: Prosody $pid ignored SIGTERM for 5 s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/prosody.pid"
  echo "stopped PID=$pid"
}

# Installs Prosody when missing (only as root; otherwise says how).
ensure_prosody() {
  if command -v prosody >/dev/null && command -v prosodyctl >/dev/null; then
    return
  fi
  if [ "$(id -u)" = 0 ]; then
    echo "run-prosody.sh: installing prosody" >&2
    apt-get update -qq && apt-get install -y -qq prosody >&2
  else
    die "Prosody is not installed: run 'sudo apt-get install -y prosody'"
  fi
}

# Prints a free TCP port on 127.0.0.1 (asks the kernel, then releases it).
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  else
    local p
    for _ in $(seq 100); do
      p=$((20000 + RANDOM % 40000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    die "found no free port"
  fi
}

start() {
  local dir="$1" port="${2:-}" pid
  [ -f "$template" ] || die "missing template $template"
  ensure_prosody
  mkdir -p "$dir/data" "$dir/certs"
  dir="$(cd "$dir" && pwd)"
  [ -n "$port" ] || port="$(free_port)"
  [[ "$port" =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is already in use"
  fi
  sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@DOMAIN@|$domain|g" \
    "$template" >"$dir/prosody.cfg.lua"

  prosody -F --config "$dir/prosody.cfg.lua" >"$dir/prosody.stdout" 2>&1 &
  pid=$!
  for _ in $(seq 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$dir/prosody.stdout" "$dir/prosody.log" >&2 2>/dev/null || true
      die "Prosody exited during startup"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$pid" >"$dir/prosody.pid"
      echo "PORT=$port PID=$pid"
      return
    fi
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
  tail -n 20 "$dir/prosody.log" >&2 2>/dev/null || true
  die "Prosody did not accept connections on 127.0.0.1:$port within 10 s"
}

case "${1:-}" in
  "" | -h | --help) usage ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  *) [ $# -le 2 ] || usage; start "$@" ;;
esac
