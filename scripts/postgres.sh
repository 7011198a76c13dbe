#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on loopback, for the tests and benchmarks that need a real
# server (Debian `postgresql`; .ci/run installs it). The tests start and stop their own through
# this script; nothing is left running once `stop` has run.
#
#   scripts/postgres.sh start DIR   # initdb DIR/data, start it on a free 127.0.0.1 port and
#                                   # print its URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   scripts/postgres.sh stop DIR    # stop it (immediate: the cluster is thrown away)
#
# PostgreSQL refuses to run as root, so under root the cluster runs as the `postgres` user the
# Debian package creates. Without PG_DURABLE=1 it runs with fsync off: tests want speed, and a
# benchmark of durable publishing sets PG_DURABLE=1. With PG_TLS=1 it also serves TLS, with a
# certificate for 127.0.0.1 and localhost from a throwaway CA written to DIR/ca.pem (and a
# second, unrelated CA to DIR/other-ca.pem, for tests of a wrong root). PG_BIN overrides where
# initdb is.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ ! -x "$bin/initdb" ]; then
  echo "postgres.sh: no initdb under ${bin:-/usr/lib/postgresql/*/bin} (apt-get install postgresql, or set PG_BIN)" >&2
  exit 127
fi

as_owner=()
if [ "$(id -u)" = 0 ]; then
  as_owner=(runuser -u postgres --)
fi

case $cmd in
start)
  mkdir -p "$dir"
  [ ${#as_owner[@]} -eq 0 ] || chown postgres "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  settings="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200"
  if [ "${PG_TLS:-0}" = 1 ]; then
    tls() { openssl "$@" >>"$dir/tls.log" 2>&1 || { cat "$dir/tls.log" >&2; exit 1; }; }
    for ca in ca other-ca; do
      tls req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=custody test $ca" -keyout "$dir/$ca.key" -out "$dir/$ca.pem"
    done
    tls req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
      -keyout "$dir/server.key" -out "$dir/server.csr"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/server.ext"
    tls x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.crt"
    chmod 600 "$dir/server.key"
    [ ${#as_owner[@]} -eq 0 ] || chown postgres "$dir/server.key" "$dir/server.crt"
    settings="$settings -c ssl=on -c ssl_cert_file=$dir/server.crt -c ssl_key_file=$dir/server.key"
  fi
  if [ "${PG_DURABLE:-0}" != 1 ]; then
    settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$settings" start \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  [ -d "$dir/data" ] || exit 0
  "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  ;;
*) usage ;;
esac
