// SPDX-License-Identifier: GPL-2.0
/*
 * A handler step for the burst test: counts how many copies of itself run
 * at once (counter file under flock, maximum kept), records the payload's
 * line, sleeps a little so that runs overlap, and leaves.
 *   conc DIR   (DIR holds the files "count", "max" and "seen")
 * As a step it takes DIR from $CONC_DIR.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

static int bump(const char *dir, int delta)
{
	char path[4096], buf[32] = "0";
	int fd, n, v, mx;

	snprintf(path, sizeof(path), "%s/count", dir);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0 || flock(fd, LOCK_EX))
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	v = atoi(buf) + delta;
	n = snprintf(buf, sizeof(buf), "%d\n", v);
	if (ftruncate(fd, 0) || pwrite(fd, buf, n, 0) != n)
		return -1;
	if (delta > 0) {
		int mfd;

		snprintf(path, sizeof(path), "%s/max", dir);
		mfd = open(path, O_RDWR | O_CREAT, 0644);
		n = pread(mfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		mx = atoi(buf);
		if (v > mx) {
			n = snprintf(buf, sizeof(buf), "%d\n", v);
			if (ftruncate(mfd, 0) || pwrite(mfd, buf, n, 0) != n)
				return -1;
		}
		close(mfd);
	}
	close(fd);	/* drops the lock */
	return v;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("CONC_DIR");
	char in[4096], path[4096];
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	ssize_t n;
	int fd;

	if (!dir)
		return 2;
	n = read(0, in, sizeof(in) - 2);
	if (n < 0)
		return 3;
	in[n] = '\n';
	if (bump(dir, 1) < 0)
		return 4;
	nanosleep(&ts, NULL);
	snprintf(path, sizeof(path), "%s/seen", dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0 || write(fd, in, n + 1) != n + 1)	/* one O_APPEND write: whole lines */
		return 5;
	close(fd);
	return bump(dir, -1) < 0 ? 6 : 0;
}
