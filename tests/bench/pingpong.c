/*
 * pingpong.c - what a wake-up costs on this machine, the floor under every
 * FUSE round trip (docs/benchmarks.md, "Busy polling"). Two processes pass
 * one byte back and forth through two pipes, N times, pinned to CPUs A and
 * B; with POLL 1 the second reads its pipe without blocking, in a loop, as
 * itemfs's session thread does with -o busy_poll. Prints the mean round
 * trip in microseconds.
 *
 * usage: pingpong CPU_A CPU_B [POLL [N]]    e.g. pingpong 0 1; pingpong 0 0
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

int main(int argc, char **argv)
{
	int to[2], back[2], status, a, b, busy;
	long n;
	pid_t pid;
	char c = 'x';
	double t0;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: %s CPU_A CPU_B [POLL [N]]\n", argv[0]);
		return 2;
	}
	a = atoi(argv[1]);
	b = atoi(argv[2]);
	busy = argc > 3 ? atoi(argv[3]) : 0;
	n = argc > 4 ? atol(argv[4]) : 20000;
	if (pipe(to) != 0 || pipe(back) != 0) {
		perror("pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		if (pin(b) != 0 || (busy && fcntl(to[0], F_SETFL, O_NONBLOCK) != 0))
			_exit(1);
		for (long i = 0; i < n; i++) {
			ssize_t r;

			while ((r = read(to[0], &c, 1)) != 1)
				if (r == 0 || (errno != EAGAIN && errno != EINTR))
					_exit(1);
			if (write(back[1], &c, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	if (pin(a) != 0) {
		perror("sched_setaffinity");
		return 1;
	}
	t0 = mono_now();
	for (long i = 0; i < n; i++)
		if (write(to[1], &c, 1) != 1 || read(back[0], &c, 1) != 1) {
			perror("ping");
			return 1;
		}
	printf("cpu %d <-> cpu %d%s: %.1f us a round trip (%ld)\n", a, b,
	       busy ? ", the second polling" : "", (mono_now() - t0) / (double)n * 1e6, n);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "pingpong: the second process failed\n");
		return 1;
	}
	return 0;
}
