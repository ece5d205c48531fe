#!/usr/bin/env bash
# CPU per packet of two polylink daemons carrying an iperf3 UDP stream.
#
#   A (eth0 198.18.90.1, eth1 198.18.91.1) ══ two veth links ══ B (…90.2, …91.2)
#   iperf3 client in A → 198.19.90.2 (B's virtual address) → iperf3 server in B
#
# Usage (root; needs iperf3): scripts/cpu-per-packet.sh [--floor|--floor-go] [RATE_PPS ...]
# Prints, per rate, the packets iperf3 delivered and both relays' CPU time
# (scheduler run time of all their threads) per delivered packet, then the
# round-trip time of 3,000 pings at 1,000/s through the tunnel and over the
# bare link. --floor runs scripts/floor-relay.c instead of polylink: the
# least any userspace relay sending two copies can spend here (needs gcc);
# --floor-go runs the same relay written in Go (scripts/floor-relay-go).
# Every namespace and process it makes is removed on exit, on failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
floor=
case "${1:-}" in
  --floor) floor=c; shift ;;
  --floor-go) floor=go; shift ;;
esac
rates=("${@:-1000 10000}")
command -v iperf3 >/dev/null || { echo "needs iperf3: apt-get install iperf3" >&2; exit 2; }
[ "$floor" != c ] || command -v gcc >/dev/null || { echo "--floor needs gcc: apt-get install gcc" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root: it creates network namespaces" >&2; exit 2; }

work=$(mktemp -d)
A=pl-cpu-a-$$ B=pl-cpu-b-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

case "$floor" in
  c) gcc -O2 -o "$work/floor-relay" scripts/floor-relay.c -lpthread ;;
  go) go build -o "$work/floor-relay" ./scripts/floor-relay-go ;;
  *) go build -o "$work/polylink" ./cmd/polylink ;;
esac
ip netns add "$A"; ip netns add "$B"
for i in 0 1; do
  ip link add eth$i netns "$A" type veth peer name eth$i netns "$B"
  ip -n "$A" addr add 198.18.9$i.1/24 dev eth$i; ip -n "$B" addr add 198.18.9$i.2/24 dev eth$i
  ip -n "$A" link set eth$i up; ip -n "$B" link set eth$i up
done
if [ -n "$floor" ]; then
  ip netns exec "$A" "$work/floor-relay" tun0 198.18.90.2 198.18.91.2 & pids+=($!); pa=$!
  ip netns exec "$B" "$work/floor-relay" tun0 198.18.90.1 198.18.91.1 & pids+=($!); pb=$!
  for _ in $(seq 50); do ip -n "$A" link show tun0 >/dev/null 2>&1 && ip -n "$B" link show tun0 >/dev/null 2>&1 && break; sleep 0.1; done
  for ns in "$A" "$B"; do ip -n "$ns" link set tun0 up; done
  ip -n "$A" addr add 198.19.90.1/24 dev tun0; ip -n "$B" addr add 198.19.90.2/24 dev tun0
else
  ip netns exec "$A" "$work/polylink" run --vip 198.19.90.1/24 --peer 198.18.90.2 --peer 198.18.91.2 \
    --control "$work/a.sock" >"$work/a.log" 2>&1 & pids+=($!); pa=$!
  ip netns exec "$B" "$work/polylink" run --vip 198.19.90.2/24 --peer 198.18.90.1 --peer 198.18.91.1 \
    --control "$work/b.sock" >"$work/b.log" 2>&1 & pids+=($!); pb=$!
  for _ in $(seq 100); do
    "$work/polylink" status --control "$work/a.sock" --json 2>/dev/null | grep -q '"state":2' && break
    sleep 0.1
  done
fi

cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }
for rate in "${rates[@]}"; do
  ip netns exec "$B" iperf3 -s -1 >/dev/null 2>&1 & pids+=($!)
  sleep 0.3
  a0=$(cpu_ns "$pa"); b0=$(cpu_ns "$pb")
  got=$(ip netns exec "$A" iperf3 -u -c 198.19.90.2 -l 172 -b $((rate * 172 * 8)) -t 5 \
        | awk '/receiver/ {split($(NF-2), f, "/"); print f[2] - f[1]}')
  a1=$(cpu_ns "$pa"); b1=$(cpu_ns "$pb")
  echo "rate $rate packet/s: $got delivered; CPU per packet: A $(( (a1 - a0) / got / 1000 )) µs +" \
       "B $(( (b1 - b0) / got / 1000 )) µs = $(( (a1 - a0 + b1 - b0) / got / 1000 )) µs"
done

# Round trips at 1,000/s; p50 and p99 from every reply's time.
rtt() {
  ip netns exec "$A" ping -n -i 0.001 -c 3000 -w 10 -s 172 "$1" \
    | awk -F'time=' '/time=/ {split($2, t, " "); print t[1]}' | sort -n \
    | awk '{v[NR] = $1} END {if (NR) printf "p50 %.0f µs, p99 %.0f µs (%d replies)", v[int(NR*0.5)+1]*1000, v[int(NR*0.99)+1]*1000, NR}'
}
echo "round trip at 1000/s: tunnel $(rtt 198.19.90.2); bare link $(rtt 198.18.90.2)"
