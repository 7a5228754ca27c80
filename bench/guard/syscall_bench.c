// A system-call-heavy workload for guard's benchmark.
//   syscall_bench open SECONDS [PER_SECOND]   open/read/close of one file in a loop
//   syscall_bench exec SECONDS                 fork + exec /bin/true + wait in a loop
// Prints "iterations seconds cpu_seconds" (cpu: this process and its waited-for children).
// PER_SECOND paces the open loop (0 or absent: as fast as it goes).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 + self.ru_stime.tv_sec + self.ru_stime.tv_usec / 1e6 +
	       kids.ru_utime.tv_sec + kids.ru_utime.tv_usec / 1e6 + kids.ru_stime.tv_sec + kids.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *mode = argv[1];
	double seconds = atof(argv[2]);
	double pace = argc > 3 ? atof(argv[3]) : 0;
	char path[] = "/tmp/guard-bench-XXXXXX";
	int tmp = mkstemp(path);
	if (tmp < 0)
		return 1;
	if (write(tmp, "hello\n", 6) != 6)
		return 1;
	close(tmp);
	double start = now(), cpu0 = cpu(), end = start + seconds;
	long n = 0;
	char buf[64];
	while (1) {
		if ((n & 63) == 0 && now() >= end)
			break;
		if (strcmp(mode, "open") == 0) {
			if (pace > 0) {
				double due = start + n / pace;
				while (now() < due)
					;
			}
			int fd = open(path, O_RDONLY);
			if (fd >= 0) {
				if (read(fd, buf, sizeof(buf)) < 0)
					return 1;
				close(fd);
			}
		} else {
			pid_t pid = fork();
			if (pid == 0) {
				execl("/bin/true", "true", (char *)NULL);
				_exit(127);
			}
			int status;
			waitpid(pid, &status, 0);
		}
		n++;
	}
	double took = now() - start;
	printf("%ld %.6f %.6f\n", n, took, cpu() - cpu0);
	unlink(path);
	return 0;
}
