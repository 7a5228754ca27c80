// SPDX-License-Identifier: MIT
// Floods one interface with identical Ethernet/IPv4/UDP frames for a fixed time, one thread per
// CPU (or as asked), in one of two ways:
//   -m packet  AF_PACKET with PACKET_QDISC_BYPASS and sendmmsg: every frame is an skb, as from a
//              local application or a bridge.
//   -m xdp     BPF_PROG_TEST_RUN in live-frames mode on a program that redirects each frame to
//              the interface: on veth the peer receives xdp_frames without any skb, as a NIC
//              driver's XDP hook receives DMA buffers. The peer must run NAPI (an XDP program
//              attached in driver mode, or GRO on).
// Prints one JSON line: frames sent, the sending window in ns, and the deltas over exactly that
// window of /proc/stat's aggregate "cpu" line, of /proc/softirqs' NET_RX, of the ksoftirqd
// threads' CPU time (ticks) and of its own CPU time (ns).
//
//   sender -i IFACE -d DST_MAC -s SRC_IP -D DST_IP [-m packet|xdp] [-t SECONDS] [-n THREADS]
//          [-b BATCH] [-l LEN]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_LEN 1514
#define MIN_LEN 60
#define CPU_FIELDS 10
// Frames per BPF_PROG_TEST_RUN call in xdp mode adapt so that a call takes about 200 ms: each
// call sets up and tears down a page pool, which can sleep for tens of ms, and that must stay
// small against the sending itself. The window ends when the last call returns.
#define LIVE_REPEAT_FIRST 65536u
#define LIVE_REPEAT_MAX (1u << 26)
#define LIVE_CALL_NS 200000000ull

enum mode { MODE_PACKET, MODE_XDP };

struct worker {
	pthread_t thread;
	int index;
	int fd;
	unsigned long long sent;
	unsigned long long failed;
};

static unsigned char frame[MAX_LEN];
static size_t frame_len = MIN_LEN;
static int batch = 64;
static enum mode mode = MODE_PACKET;
static int redirect_prog = -1;
static int ncpus;
static atomic_int stop;
static pthread_barrier_t ready;

static void die(const char *what)
{
	fprintf(stderr, "sender: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: sender -i IFACE -d DST_MAC -s SRC_IP -D DST_IP [-m packet|xdp] [-t SECONDS] [-n THREADS] [-b BATCH] [-l LEN]\n");
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint16_t ip_checksum(const void *hdr, size_t len)
{
	const uint16_t *p = hdr;
	uint32_t sum = 0;

	for (; len > 1; len -= 2)
		sum += *p++;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void parse_mac(const char *text, unsigned char *mac)
{
	unsigned int b[6];

	if (sscanf(text, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		usage();
	for (int i = 0; i < 6; i++)
		mac[i] = (unsigned char)b[i];
}

static void own_mac(const char *ifname, unsigned char *mac)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket(AF_INET)");
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		die("SIOCGIFHWADDR");
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
}

// r0 = bpf_redirect(ifindex, 0); return r0.
static int load_redirect(unsigned int ifindex)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = (int)ifindex },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = 0 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_XDP;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = sizeof(insns) / sizeof(insns[0]);
	attr.license = (uint64_t)(uintptr_t)"GPL";
	fd = (int)syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd < 0)
		die("BPF_PROG_LOAD (redirect)");
	return fd;
}

// Runs the redirect program `repeat` times on the frame; each run transmits one frame.
static int send_live(unsigned int repeat)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = (uint32_t)redirect_prog;
	attr.test.data_in = (uint64_t)(uintptr_t)frame;
	attr.test.data_size_in = (uint32_t)frame_len;
	attr.test.repeat = repeat;
	attr.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
	attr.test.batch_size = (uint32_t)batch;
	if (syscall(__NR_bpf, BPF_PROG_TEST_RUN, &attr, sizeof(attr)) < 0)
		return -1;
	return (int)repeat;
}

static void build_frame(const unsigned char *dst, const unsigned char *src, struct in_addr saddr, struct in_addr daddr)
{
	struct ether_header *eth = (struct ether_header *)frame;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	size_t ip_len = frame_len - sizeof(*eth);

	memset(frame, 0, sizeof(frame));
	memcpy(eth->ether_dhost, dst, 6);
	memcpy(eth->ether_shost, src, 6);
	eth->ether_type = htons(ETHERTYPE_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)ip_len);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = saddr.s_addr;
	ip->daddr = daddr.s_addr;
	ip->check = ip_checksum(ip, sizeof(*ip));
	// Discard port; the UDP checksum stays 0 (none), which IPv4 allows.
	udp->source = htons(9);
	udp->dest = htons(9);
	udp->len = htons((uint16_t)(ip_len - sizeof(*ip)));
}

static int open_socket(int ifindex)
{
	struct sockaddr_ll addr = { 0 };
	int one = 1;
	// Protocol 0: this socket sends only and is never handed received frames.
	int fd = socket(AF_PACKET, SOCK_RAW, 0);

	if (fd < 0)
		die("socket(AF_PACKET)");
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		die("PACKET_QDISC_BYPASS");
	addr.sll_family = AF_PACKET;
	addr.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind");
	return fd;
}

static void *send_loop(void *arg)
{
	struct worker *w = arg;
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov = { .iov_base = frame, .iov_len = frame_len };
	unsigned int repeat = LIVE_REPEAT_FIRST;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->index % ncpus, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < batch; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	pthread_barrier_wait(&ready);
	pthread_barrier_wait(&ready);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t t0 = now_ns();
		int n = mode == MODE_XDP ? send_live(repeat) : sendmmsg(w->fd, msgs, (unsigned int)batch, 0);
		uint64_t took = now_ns() - t0;

		if (mode == MODE_XDP && took < LIVE_CALL_NS / 2 && repeat < LIVE_REPEAT_MAX)
			repeat *= 2;
		else if (mode == MODE_XDP && took > LIVE_CALL_NS * 2 && repeat > LIVE_REPEAT_FIRST)
			repeat /= 2;

		if (n > 0)
			w->sent += (unsigned long long)n;
		else if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
			w->failed++;
		else
			die(mode == MODE_XDP ? "BPF_PROG_TEST_RUN" : "sendmmsg");
	}
	return NULL;
}

static void read_cpu(unsigned long long *fields)
{
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		die("/proc/stat");
	memset(fields, 0, CPU_FIELDS * sizeof(*fields));
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &fields[0], &fields[1], &fields[2], &fields[3],
		   &fields[4], &fields[5], &fields[6], &fields[7], &fields[8], &fields[9]) < 8) {
		errno = EINVAL;
		die("/proc/stat: unexpected format");
	}
	fclose(f);
}

static uint64_t cpu_time_ns(const struct timeval *tv)
{
	return (uint64_t)tv->tv_sec * 1000000000ull + (uint64_t)tv->tv_usec * 1000ull;
}

// CPU time (USER_HZ ticks) of the ksoftirqd threads: softirq work deferred out of the sender.
static unsigned long long read_ksoftirqd(void)
{
	unsigned long long total = 0;
	struct dirent *e;
	DIR *proc = opendir("/proc");

	if (!proc)
		die("/proc");
	while ((e = readdir(proc))) {
		char path[288], buf[512];
		unsigned long long utime, stime;
		FILE *f;
		char *p;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (!p || !strstr(buf, "(ksoftirqd/"))
			continue;
		// Fields after "(comm) ": state ppid pgrp session tty_nr tpgid flags minflt cminflt
		// majflt cmajflt utime stime.
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2)
			total += utime + stime;
	}
	closedir(proc);
	return total;
}

static unsigned long long read_net_rx(void)
{
	char line[4096];
	unsigned long long total = 0;
	FILE *f = fopen("/proc/softirqs", "r");

	if (!f)
		die("/proc/softirqs");
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		while (*p == ' ')
			p++;
		if (strncmp(p, "NET_RX:", 7) != 0)
			continue;
		p += 7;
		for (;;) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			total += v;
			p = end;
		}
	}
	fclose(f);
	return total;
}

int main(int argc, char **argv)
{
	const char *ifname = NULL, *dst_mac = NULL, *src_ip = NULL, *dst_ip = NULL;
	double seconds = 3;
	int threads = 0, opt;
	unsigned char dst[6], src[6];
	struct in_addr saddr, daddr;
	unsigned long long cpu0[CPU_FIELDS], cpu1[CPU_FIELDS], rx0, rx1, ksoft0, ksoft1, sent = 0, failed = 0;
	struct worker *workers;
	uint64_t t0, t1;
	struct rusage ru0, ru1;
	unsigned int ifindex;

	while ((opt = getopt(argc, argv, "i:d:s:D:m:t:n:b:l:")) != -1) {
		switch (opt) {
		case 'i': ifname = optarg; break;
		case 'd': dst_mac = optarg; break;
		case 's': src_ip = optarg; break;
		case 'D': dst_ip = optarg; break;
		case 'm':
			if (strcmp(optarg, "packet") == 0)
				mode = MODE_PACKET;
			else if (strcmp(optarg, "xdp") == 0)
				mode = MODE_XDP;
			else
				usage();
			break;
		case 't': seconds = atof(optarg); break;
		case 'n': threads = atoi(optarg); break;
		case 'b': batch = atoi(optarg); break;
		case 'l': frame_len = (size_t)atoi(optarg); break;
		default: usage();
		}
	}
	if (!ifname || !dst_mac || !src_ip || !dst_ip || seconds <= 0 || batch < 1 || batch > MAX_BATCH ||
	    frame_len < MIN_LEN || frame_len > MAX_LEN)
		usage();
	if (inet_pton(AF_INET, src_ip, &saddr) != 1 || inet_pton(AF_INET, dst_ip, &daddr) != 1)
		usage();
	parse_mac(dst_mac, dst);
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		die(ifname);
	ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads <= 0)
		threads = ncpus;

	workers = calloc((size_t)threads, sizeof(*workers));
	if (!workers)
		die("calloc");
	for (int i = 0; i < threads; i++) {
		workers[i].index = i;
		workers[i].fd = mode == MODE_PACKET ? open_socket((int)ifindex) : -1;
	}
	if (mode == MODE_XDP)
		redirect_prog = load_redirect(ifindex);
	own_mac(ifname, src);
	build_frame(dst, src, saddr, daddr);

	// Two barrier rounds: every thread is pinned and ready before the window opens, and the
	// counters are read right before the first frame.
	pthread_barrier_init(&ready, NULL, (unsigned int)threads + 1);
	for (int i = 0; i < threads; i++)
		if ((errno = pthread_create(&workers[i].thread, NULL, send_loop, &workers[i])) != 0)
			die("pthread_create");
	pthread_barrier_wait(&ready);
	read_cpu(cpu0);
	rx0 = read_net_rx();
	ksoft0 = read_ksoftirqd();
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_ns();
	pthread_barrier_wait(&ready);

	struct timespec pause = { .tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
		;
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++) {
		pthread_join(workers[i].thread, NULL);
		sent += workers[i].sent;
		failed += workers[i].failed;
	}
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &ru1);
	read_cpu(cpu1);
	rx1 = read_net_rx();
	ksoft1 = read_ksoftirqd();

	printf("{\"mode\":\"%s\",\"sent\":%llu,\"failedCalls\":%llu,\"threads\":%d,\"batch\":%d,\"frameLen\":%zu,\"ns\":%llu,\"netRx\":%llu,\"userHz\":%ld,\"cpu\":[",
	       mode == MODE_XDP ? "xdp" : "packet", sent, failed, threads, batch, frame_len, (unsigned long long)(t1 - t0), rx1 - rx0, sysconf(_SC_CLK_TCK));
	for (int i = 0; i < CPU_FIELDS; i++)
		printf("%s%llu", i ? "," : "", cpu1[i] - cpu0[i]);
	printf("],\"ksoftirqd\":%llu,\"utimeNs\":%llu,\"stimeNs\":%llu}\n", ksoft1 - ksoft0,
	       (unsigned long long)(cpu_time_ns(&ru1.ru_utime) - cpu_time_ns(&ru0.ru_utime)),
	       (unsigned long long)(cpu_time_ns(&ru1.ru_stime) - cpu_time_ns(&ru0.ru_stime)));
	for (int i = 0; i < threads; i++)
		if (workers[i].fd >= 0)
			close(workers[i].fd);
	if (redirect_prog >= 0)
		close(redirect_prog);
	free(workers);
	return 0;
}
