#!/usr/bin/env bash
# A local Shootdown cluster with Redis membership, for newcomers and for the multi-host tests.
#
#   cluster.sh up N [--netns] [--tls] [--state DIR] [--name NAME] [--subnet A.B.C] [--redis-port P] [--cluster-id ID]
#   cluster.sh down [--state DIR]
#
# up installs redis-server if missing (apt), starts Redis and N silos, waits until all N have
# joined, and prints: redis=HOST:PORT, cluster-id=ID, redis-password-file=PATH (Redis requires
# that password: give the file to `shootdown run --redis-password-file`), then one line per silo,
# "silo=PID ADDR:SILOPORT gateway=ADDR:PORT". With --netns each silo runs in a network namespace
# of its own (NAME-1 ... NAME-N) with its own address A.B.C.(10+i), on a bridge NAME-br
# (A.B.C.1) that this script creates; Redis and clients stay in the root namespace and reach the
# silos over the bridge. Without it every silo listens on 127.0.0.1. With --tls the silos, and
# Redis, use a development certificate (printed as tls-cert=PATH; give it to `shootdown run
# --tls-cert PATH --redis-tls`).
# If the cluster has not formed within 60 s, up says why in one line, undoes what it did and
# exits non-zero. down stops what up started (by the PIDs it recorded) and removes the
# namespaces and bridge; it is safe to run twice. Needs root for --netns, as CI has.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
state=${SHOOTDOWN_CLUSTER_STATE:-/tmp/shootdown-cluster}
name=sdc
subnet=10.231.0
redis_port=6379
cluster_id=shootdown-local
netns=false
tls=false
join_timeout=60

die() { echo "cluster.sh: $*" >&2; exit 2; }

usage() { die "usage: cluster.sh up N [--netns] [--tls] [--state DIR] [--name NAME] [--subnet A.B.C] [--redis-port P] [--cluster-id ID] | down [--state DIR]"; }

parse_options() {
  while [ $# -gt 0 ]; do
    case $1 in
      --netns) netns=true ;;
      --tls) tls=true ;;
      --state) [ $# -ge 2 ] || usage; state=$2; shift ;;
      --name) [ $# -ge 2 ] || usage; name=$2; shift ;;
      --subnet) [ $# -ge 2 ] || usage; subnet=$2; shift ;;
      --redis-port) [ $# -ge 2 ] || usage; redis_port=$2; shift ;;
      --cluster-id) [ $# -ge 2 ] || usage; cluster_id=$2; shift ;;
      *) die "unknown option '$1'" ;;
    esac
    shift
  done
  [[ $name =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "--name '$name' must be 1 to 8 lower-case letters and digits (it prefixes interface names)"
  [[ $subnet =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || die "--subnet '$subnet' must be the first three octets, like 10.231.0"
  [[ $redis_port =~ ^[0-9]+$ ]] && [ "$redis_port" -ge 1 ] && [ "$redis_port" -le 65535 ] || die "--redis-port '$redis_port' is not a port"
  [[ $cluster_id =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "--cluster-id '$cluster_id' must be 1 to 64 letters, digits, '.', '_' or '-'"
}

# Stops every recorded process, then removes the namespaces and the bridge. Idempotent.
down() {
  [ -d "$state" ] || return 0
  local pids=() pid
  if [ -f "$state/pids" ]; then
    while read -r pid _; do pids+=("$pid"); done < "$state/pids"
  fi
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=false
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=true; done
    $alive || break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ -f "$state/netns" ]; then
    local ns
    while read -r ns; do ip netns delete "$ns" 2>/dev/null || true; done < "$state/netns"
  fi
  if [ -f "$state/bridge" ]; then ip link delete "$(cat "$state/bridge")" 2>/dev/null || true; fi
  rm -rf "$state"
}

silo_binary() {
  local dll=${SHOOTDOWN_SILO:-$root/src/Silo/bin/Release/net10.0/shootdown-silo.dll}
  if [ ! -f "$dll" ]; then
    dotnet build "$root/src/Silo" -c Release -v quiet -nologo >&2 || die "building the silo failed"
  fi
  [ -f "$dll" ] || die "no silo at $dll"
  echo "$dll"
}

up() {
  local count=$1
  [[ $count =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le 200 ] || die "N must be from 1 to 200, not '$count'"
  if [ -f "$state/pids" ]; then die "a cluster is already up (state in $state); run 'cluster.sh down' first"; fi
  "$root/scripts/install-test-deps.sh" >&2
  local dll
  dll=$(silo_binary)
  mkdir -p "$state"
  # From here on, any failure undoes what was done.
  trap 'status=$?; if [ $status -ne 0 ]; then down; fi; exit $status' EXIT
  : > "$state/pids"
  local redis_host=127.0.0.1 bind=127.0.0.1
  if $netns; then
    local bridge="$name-br"
    ip link add "$bridge" type bridge || die "cannot create bridge $bridge (is it left from another cluster? run down)"
    echo "$bridge" > "$state/bridge"
    ip addr add "$subnet.1/24" dev "$bridge"
    ip link set "$bridge" up
    redis_host=$subnet.1
    bind="127.0.0.1 $subnet.1"
  fi
  # Redis keeps the membership table and checkpoints; nothing is saved to disk. Whoever can write
  # the table can stop a silo, so Redis requires a password (in a file only this user reads, and
  # in Redis's config file, not on a command line), and with --tls speaks TLS with the cluster
  # certificate, which silos and clients pin.
  head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$state/redis.password"
  chmod 600 "$state/redis.password"
  local conf="$state/redis.conf" cli=(redis-cli -h "$redis_host" -p "$redis_port")
  (umask 077; printf 'requirepass %s\n' "$(cat "$state/redis.password")" > "$conf")
  local tls_args=() redis_args=(--port "$redis_port")
  if $tls; then
    "$here/make-dev-cert.sh" "$state/cluster.pfx" >/dev/null
    tls_args=(--tls-cert "$state/cluster.pfx" --redis-tls)
    openssl pkcs12 -in "$state/cluster.pfx" -nokeys -passin "pass:${SHOOTDOWN_TLS_PASSWORD:-}" -out "$state/redis.crt" 2>/dev/null
    (umask 077; openssl pkcs12 -in "$state/cluster.pfx" -nocerts -nodes -passin "pass:${SHOOTDOWN_TLS_PASSWORD:-}" -out "$state/redis.key" 2>/dev/null)
    redis_args=(--port 0 --tls-port "$redis_port" --tls-cert-file "$state/redis.crt" --tls-key-file "$state/redis.key" --tls-auth-clients no)
    # The readiness probe only: it does not check the certificate it is shown.
    cli+=(--tls --insecure)
  fi
  setsid redis-server "$conf" "${redis_args[@]}" --bind $bind --protected-mode yes --save "" --appendonly no \
    --dir "$state" --logfile "$state/redis.log" --daemonize no > /dev/null 2>&1 < /dev/null &
  echo "$! redis" >> "$state/pids"
  for _ in $(seq 50); do
    REDISCLI_AUTH=$(cat "$state/redis.password") "${cli[@]}" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$!" 2>/dev/null || die "redis-server did not start on port $redis_port: $(tail -n 1 "$state/redis.log")"
    sleep 0.1
  done
  # One checkpoint key for every silo: each seals the checkpoint parts it writes to Redis with
  # it, and refuses a part sealed with another (or changed since).
  head -c 32 /dev/urandom > "$state/checkpoint.key"
  chmod 600 "$state/checkpoint.key"
  local i
  for i in $(seq "$count"); do
    local addr=127.0.0.1 silo_port=$((11110 + i)) gateway_port=$((29999 + i)) prefix=() security=()
    if $netns; then
      local ns="$name-$i" veth="$name-v$i"
      addr=$subnet.$((10 + i)) silo_port=11111 gateway_port=30000
      ip netns add "$ns"
      echo "$ns" >> "$state/netns"
      ip link add "$veth" type veth peer name eth0 netns "$ns"
      ip link set "$veth" master "$name-br"
      ip link set "$veth" up
      ip -n "$ns" addr add "$addr/24" dev eth0
      ip -n "$ns" link set eth0 up
      ip -n "$ns" link set lo up
      prefix=(ip netns exec "$ns")
      security=(--insecure)
    fi
    [ ${#tls_args[@]} -gt 0 ] && security=("${tls_args[@]}")
    setsid "${prefix[@]}" dotnet "$dll" --cluster-id "$cluster_id" --redis "$redis_host:$redis_port" \
      --redis-password-file "$state/redis.password" \
      --listen "$addr" --silo-port "$silo_port" --gateway-port "$gateway_port" --checkpoint-key "$state/checkpoint.key" "${security[@]}" \
      > "$state/silo-$i.log" 2>&1 < /dev/null &
    echo "$! silo $addr:$silo_port gateway=$addr:$gateway_port" >> "$state/pids"
  done
  local deadline=$((SECONDS + join_timeout))
  while :; do
    local joined=0
    for i in $(seq "$count"); do
      grep -q "joined cluster" "$state/silo-$i.log" && joined=$((joined + 1))
    done
    [ "$joined" -eq "$count" ] && break
    while read -r pid kind rest; do
      if [ "$kind" = silo ] && ! kill -0 "$pid" 2>/dev/null; then
        local n
        n=$(grep -n "^$pid " "$state/pids" | cut -d: -f1)
        die "silo $rest exited before joining: $(grep -m1 'shootdown-silo:' "$state/silo-$((n - 1)).log" || tail -n 1 "$state/silo-$((n - 1)).log")"
      fi
    done < "$state/pids"
    [ $SECONDS -lt $deadline ] || die "only $joined of $count silos joined cluster '$cluster_id' within ${join_timeout} s (logs in $state)"
    sleep 0.2
  done
  trap - EXIT
  echo "redis=$redis_host:$redis_port"
  echo "cluster-id=$cluster_id"
  echo "redis-password-file=$state/redis.password"
  if $tls; then echo "tls-cert=$state/cluster.pfx"; fi
  while read -r pid kind rest; do
    [ "$kind" = silo ] && echo "silo=$pid $rest"
  done < "$state/pids"
}

[ $# -ge 1 ] || usage
command=$1
shift
case $command in
  up)
    [ $# -ge 1 ] || usage
    count=$1
    shift
    parse_options "$@"
    up "$count"
    ;;
  down)
    parse_options "$@"
    down
    ;;
  *) usage ;;
esac
