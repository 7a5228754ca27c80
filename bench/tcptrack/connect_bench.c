// connect() + close() on loopback as fast as the client threads can, against a listener whose
// thread accepts and closes. The client closes with SO_LINGER 0 (a RST, no TIME_WAIT), so the
// ephemeral ports never run out however long it runs.
//
//   connect_bench SECONDS [CLIENT_THREADS] [RATE]
//
// RATE, when given, paces the clients to about that many connections per second in total.
// Prints "<connections> <seconds> <cpu seconds>" on stdout: the wall time of the run and the
// CPU time (user and system, all threads) the program used in it.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;
static double seconds;
static double rate;
static int clients;
static atomic_long total;
static atomic_int stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *acceptor(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			close(fd);
		else if (atomic_load(&stop))
			return NULL;
	}
}

static void *client(void *arg)
{
	struct linger abort_close = { .l_onoff = 1, .l_linger = 0 };
	double start = now(), end = start + seconds;
	double gap = rate > 0 ? clients / rate : 0;
	long n = 0;

	(void)arg;
	for (;;) {
		double t = now();
		int fd;

		if (t >= end)
			break;
		if (gap > 0 && t < start + n * gap) {
			double wait = start + n * gap - t;
			struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };

			nanosleep(&ts, NULL);
			continue;
		}
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			perror("socket");
			exit(1);
		}
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close));
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
			perror("connect");
			exit(1);
		}
		close(fd);
		n++;
	}
	atomic_fetch_add(&total, n);
	return NULL;
}

int main(int argc, char **argv)
{
	socklen_t len = sizeof(addr);
	struct rusage ru;
	pthread_t acc, *threads;
	double t0, t1;
	int lfd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s SECONDS [CLIENT_THREADS] [RATE]\n", argv[0]);
		return 2;
	}
	seconds = atof(argv[1]);
	clients = argc > 2 ? atoi(argv[2]) : 1;
	rate = argc > 3 ? atof(argv[3]) : 0;
	if (clients < 1)
		clients = 1;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&addr, &len) != 0) {
		perror("listen");
		return 1;
	}
	pthread_create(&acc, NULL, acceptor, &lfd);

	threads = calloc(clients, sizeof(*threads));
	t0 = now();
	for (int i = 0; i < clients; i++)
		pthread_create(&threads[i], NULL, client, NULL);
	for (int i = 0; i < clients; i++)
		pthread_join(threads[i], NULL);
	t1 = now();

	atomic_store(&stop, 1);
	shutdown(lfd, SHUT_RDWR);
	pthread_join(acc, NULL);
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld %.6f %.6f\n", atomic_load(&total), t1 - t0,
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	return 0;
}
