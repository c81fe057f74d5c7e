// SPDX-License-Identifier: GPL-2.0
/*
 * Baseline for scripts/bench-events.sh: fork+exec+wait PROGRAM COUNT times,
 * up to PAR at once, the payload on a pipe as stdin. Prints runs/s.
 *   forkexec PROGRAM COUNT PAR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n, par, started = 0, running = 0;
	struct timespec a, b;

	if (argc != 4)
		return 64;
	n = atol(argv[2]);
	par = atol(argv[3]);
	clock_gettime(CLOCK_MONOTONIC, &a);
	while (started < n || running) {
		while (started < n && running < par) {
			int p[2];
			pid_t pid;

			if (pipe(p))
				return 1;
			pid = fork();
			if (pid == 0) {
				dup2(p[0], 0);
				close(p[0]);
				close(p[1]);
				execl(argv[1], argv[1], (char *)NULL);
				_exit(127);
			}
			if (write(p[1], "{\"seq\":1}", 9) != 9)
				return 1;
			close(p[0]);
			close(p[1]);
			started++;
			running++;
		}
		if (wait(NULL) > 0)
			running--;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", n / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
	return 0;
}
