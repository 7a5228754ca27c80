// SPDX-License-Identifier: MIT
// Turns GRO on for an interface (ETHTOOL_SGRO), as `ethtool -K IFACE gro on` does. On veth this
// also starts NAPI on the receiving side, which XDP-redirected frames need to be accepted when no
// XDP program is attached there in driver mode; NIC drivers receive through NAPI and GRO anyway.
//
//   gro IFACE
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct ethtool_value value = { .cmd = ETHTOOL_SGRO, .data = 1 };
	struct ifreq ifr;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: gro IFACE\n");
		return 2;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[1]);
	ifr.ifr_data = (void *)&value;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		fprintf(stderr, "gro: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
