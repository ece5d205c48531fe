#!/usr/bin/env bash
# polylink against the floor relays, side by side, with one evenly paced
# stream on the same two veth links.
#
#   A (eth0 198.18.90.1, eth1 198.18.91.1) ══ two veth links ══ B (…90.2, …91.2)
#   paced-stream: A → 198.19.90.2 (B's virtual address), one packet every 1/RATE s
#
# Usage (root; needs gcc for the C relay):
#   scripts/compare-relays.sh [ROUNDS [SECONDS [RATE ...]]]     defaults: 5 5 1000 10000
#
# Each round runs every relay in turn (polylink, scripts/floor-relay-go,
# scripts/floor-relay.c; the order rotates every round), each over the same
# namespaces and links with the same stream (scripts/paced-stream, 172-byte
# payloads, evenly paced on absolute deadlines: no bursts) at every rate. It
# prints one line per measurement, then a table of medians (range) over the
# rounds: CPU per delivered packet of both relay processes together (the
# scheduler's run time of all their threads, kernel work on their behalf
# included), loss, one-way latency p50/p99, and how late the sender itself
# sent against its schedule (p99): on a loaded machine the stream is only as
# even as that.
# Every namespace and process it makes is removed on exit, on failure too.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
seconds=${2:-5}
shift $(( $# < 2 ? $# : 2 ))
if [ $# -gt 0 ]; then rates=("$@"); else rates=(1000 10000); fi
command -v gcc >/dev/null || { echo "needs gcc: apt-get install gcc" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root: it creates network namespaces" >&2; exit 2; }

work=$(mktemp -d)
A=pl-cmp-a-$$ B=pl-cmp-b-$$
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/polylink" ./cmd/polylink
go build -o "$work/floor-go-relay" ./scripts/floor-relay-go
go build -o "$work/paced-stream" ./scripts/paced-stream
gcc -O2 -o "$work/floor-c-relay" scripts/floor-relay.c -lpthread
ip netns add "$A"; ip netns add "$B"
for i in 0 1; do
  ip link add eth$i netns "$A" type veth peer name eth$i netns "$B"
  ip -n "$A" addr add 198.18.9$i.1/24 dev eth$i; ip -n "$B" addr add 198.18.9$i.2/24 dev eth$i
  ip -n "$A" link set eth$i up; ip -n "$B" link set eth$i up
done

# start RELAY: both ends up and a ping through the tunnel answered; sets pa, pb.
start() {
  case "$1" in
    polylink)
      ip netns exec "$A" "$work/polylink" run --vip 198.19.90.1/24 --peer 198.18.90.2 --peer 198.18.91.2 \
        --control "$work/a.sock" >"$work/a.log" 2>&1 & pa=$!
      ip netns exec "$B" "$work/polylink" run --vip 198.19.90.2/24 --peer 198.18.90.1 --peer 198.18.91.1 \
        --control "$work/b.sock" >"$work/b.log" 2>&1 & pb=$!
      pids+=("$pa" "$pb")
      for _ in $(seq 100); do
        [ "$("$work/polylink" status --control "$work/a.sock" --json 2>/dev/null | grep -o '"state":2' | wc -l)" = 2 ] &&
          [ "$("$work/polylink" status --control "$work/b.sock" --json 2>/dev/null | grep -o '"state":2' | wc -l)" = 2 ] && break
        sleep 0.1
      done ;;
    floor-go|floor-c)
      ip netns exec "$A" "$work/$1-relay" tun0 198.18.90.2 198.18.91.2 >"$work/a.log" 2>&1 & pa=$!
      ip netns exec "$B" "$work/$1-relay" tun0 198.18.90.1 198.18.91.1 >"$work/b.log" 2>&1 & pb=$!
      pids+=("$pa" "$pb")
      for _ in $(seq 50); do ip -n "$A" link show tun0 >/dev/null 2>&1 && ip -n "$B" link show tun0 >/dev/null 2>&1 && break; sleep 0.1; done
      ip -n "$A" addr add 198.19.90.1/24 dev tun0; ip -n "$B" addr add 198.19.90.2/24 dev tun0
      ip -n "$A" link set tun0 up; ip -n "$B" link set tun0 up ;;
  esac
  ip netns exec "$A" ping -n -q -c 1 -w 5 198.19.90.2 >/dev/null || { echo "$1: no ping through the tunnel" >&2; cat "$work/a.log" "$work/b.log" >&2; exit 1; }
}
stop() {
  kill "$pa" "$pb"; wait "$pa" "$pb" 2>/dev/null || true
  for _ in $(seq 50); do ! ip -n "$A" link show tun0 >/dev/null 2>&1 && ! ip -n "$A" link show pl0 >/dev/null 2>&1 && break; sleep 0.1; done
}
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }
relays=(polylink floor-go floor-c)
results="$work/results"
port=7000
echo "relay rate round cpu_us_per_pkt sent received lost p50_us p99_us pacing_p99_us"
for round in $(seq "$rounds"); do
  for k in 0 1 2; do
    relay=${relays[$(( (round + k) % 3 ))]}
    start "$relay"
    for rate in "${rates[@]}"; do
      port=$((port + 1))
      a0=$(cpu_ns "$pa"); b0=$(cpu_ns "$pb")
      out=$("$work/paced-stream" "$A" "$B" 198.19.90.2 "$port" "$rate" "$seconds" 172)
      a1=$(cpu_ns "$pa"); b1=$(cpu_ns "$pb")
      eval "$(tr ' ' '\n' <<<"$out" | sed 's/^/m_/')"
      cpu=$(awk -v c=$((a1 - a0 + b1 - b0)) -v n="$m_received" 'BEGIN {printf "%.1f", n ? c / n / 1000 : 0}')
      echo "$relay $rate $round $cpu $m_sent $m_received $m_lost $m_p50_us $m_p99_us $m_pacing_p99_us" | tee -a "$results"
    done
    stop
  done
done

# Medians (range) per relay and rate.
med() { sort -n | awk '{v[NR] = $1} END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%g (%g–%g)", m, v[1], v[NR]}'; }
echo
echo "Evenly paced stream, 172-byte payloads, $seconds s per run, $rounds alternating rounds: median (range)"
echo
printf '| | %s | %s | %s |\n| --- | --- | --- | --- |\n' "polylink" "Go floor relay" "C floor relay"
for rate in "${rates[@]}"; do
  for col in "4 CPU per packet (µs)" "7 lost (packets)" "8 one-way latency p50 (µs)" "9 one-way latency p99 (µs)" "10 sender lateness p99 (µs)"; do
    f=${col%% *} name=${col#* }
    printf '| %s, %s packet/s |' "$name" "$rate"
    for relay in "${relays[@]}"; do
      printf ' %s |' "$(awk -v r="$relay" -v q="$rate" -v f="$f" '$1 == r && $2 == q {print $f}' "$results" | med)"
    done
    echo
  done
done
