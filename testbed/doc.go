// Package testbed reproduces polylink's test network on one machine: network
// namespaces for the seed's VirtualBox hosts, veth paths through a middle
// namespace where a userspace link emulator applies delay, jitter, loss, rate
// limits and outages, a real-time stream generator and sink, scenarios and
// reports. It may start the polylink binary but imports no data-path package.
package testbed
