// floor-relay: the least a userspace IP-in-IP relay can do per packet, as a
// yardstick for polylink's CPU cost (scripts/compare-relays.sh).
//
// One thread reads the TUN and sends a copy to every peer over one raw
// socket; another receives, keeps the copies from the first peer only (the
// cheapest possible "first copy wins") and writes them to the TUN. Blocking
// system calls, no runtime, no headers, no probes, no statistics: every
// packet still costs what no relay can avoid here — a wake-up on each side.
//
// usage: floor-relay TUN PEER [PEER]   (the TUN is created; address it after)
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int tun, raw, npeers;
static struct sockaddr_in peers[2];

static void *tun_to_peers(void *unused) {
	char b[2048];
	for (;;) {
		ssize_t n = read(tun, b, sizeof b);
		for (int i = 0; n > 0 && i < npeers; i++)
			sendto(raw, b, n, 0, (struct sockaddr *)&peers[i], sizeof peers[i]);
	}
	return unused;
}

static void *peers_to_tun(void *unused) {
	unsigned char b[2048];
	for (;;) {
		ssize_t n = recv(raw, b, sizeof b, 0);
		if (n <= 20 || memcmp(b + 12, &peers[0].sin_addr, 4) != 0)
			continue; // runt, or the copy from the second peer
		int hl = (b[0] & 15) * 4;
		if (n > hl && write(tun, b + hl, n - hl) < 0)
			continue; // the TUN is not up yet, or already gone
	}
	return unused;
}

int main(int argc, char **argv) {
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: floor-relay TUN PEER [PEER]\n");
		return 2;
	}
	struct ifreq r = {.ifr_flags = IFF_TUN | IFF_NO_PI};
	strncpy(r.ifr_name, argv[1], IFNAMSIZ - 1);
	if ((tun = open("/dev/net/tun", O_RDWR)) < 0 || ioctl(tun, TUNSETIFF, &r) < 0) {
		perror("tun");
		return 1;
	}
	if ((raw = socket(AF_INET, SOCK_RAW, IPPROTO_IPIP)) < 0) {
		perror("raw socket");
		return 1;
	}
	for (int i = 2; i < argc; i++, npeers++) {
		peers[npeers].sin_family = AF_INET;
		if (inet_pton(AF_INET, argv[i], &peers[npeers].sin_addr) != 1) {
			fprintf(stderr, "bad peer address %s\n", argv[i]);
			return 2;
		}
	}
	pthread_t t;
	pthread_create(&t, NULL, peers_to_tun, NULL);
	tun_to_peers(NULL);
	return 0;
}
