// SPDX-License-Identifier: GPL-2.0
/*
 * The native plugin backend: dlopen a .so that exports the callbacks of
 * <jazz/events.h>. The file is copied into a memfd first, so that a reload
 * (SIGHUP) really loads the new file even while the old one stays mapped
 * for calls still running on it.
 *
 * Must not run calls itself (callbacks.c does).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "log.h"

struct plugin {
	struct jz_backend b;
	void *dl;
	int memfd;
	void (*fini)(void);
	jazz_accept_conn_fn accept_conn;
	jazz_user_key_fn user_key;
	jazz_validate_user_fn validate_user;
	jazz_peer_filter_fn peer_filter;
	jazz_peer_filter_many_fn peer_filter_many;
	jazz_peer_connection_fn peer_connection;
	char name[];
};

static void host_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (level < LOG_ERR || level > LOG_DEBUG)
		level = LOG_INFO;
	jz_log(level, "plugin: %s", buf);
}

static const struct jazz_host_api host_api = {
	.abi_version = JAZZ_EVENTS_ABI_VERSION,
	.log = host_log,
};

#define P(b) ((struct plugin *)(b))

static int p_accept(struct jz_backend *b, const struct jazz_accept_info *i, int *a)
{
	return P(b)->accept_conn(i, a);
}

static int p_user_key(struct jz_backend *b, const struct jazz_user_key_request *r,
		      struct jazz_user_key_reply *o)
{
	return P(b)->user_key(r, o);
}

static int p_validate(struct jz_backend *b, const struct jazz_validate_request *r,
		      struct jazz_validate_reply *o)
{
	return P(b)->validate_user(r, o);
}

static int p_filter(struct jz_backend *b, const struct jazz_peer_review *r,
		    unsigned char *ku, unsigned char *kp)
{
	return P(b)->peer_filter(r, ku, kp);
}

static int p_filter_many(struct jz_backend *b, const struct jazz_peer_reviews *r,
			 unsigned char *const *ku, unsigned char *const *kp)
{
	return P(b)->peer_filter_many(r, ku, kp);
}

static int p_conn(struct jz_backend *b, const struct jazz_connection_info *i,
		  struct jazz_connection_reply *o)
{
	return P(b)->peer_connection(i, o);
}

static void p_destroy(struct jz_backend *b)
{
	struct plugin *p = P(b);

	if (p->fini)
		p->fini();
	dlclose(p->dl);
	close(p->memfd);
	free(p);
}

static int copy_to_memfd(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int in, out;
	off_t off = 0;

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st)) {
		snprintf(err, errlen, "plugin %s: %s", path, strerror(errno));
		if (in >= 0)
			close(in);
		return -1;
	}
	out = memfd_create("jazz-plugin", MFD_CLOEXEC);
	if (out < 0) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		close(in);
		return -1;
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(out, in, &off, st.st_size - off);

		if (n <= 0) {
			snprintf(err, errlen, "plugin %s: copy failed", path);
			close(in);
			close(out);
			return -1;
		}
	}
	close(in);
	return out;
}

struct jz_backend *jz_plugin_load(const char *path, char *err, size_t errlen)
{
	struct plugin *p;
	char fdpath[64];
	const int *abi, *conc;
	int (*init)(const struct jazz_host_api *);
	int fd;
	void *dl;

	fd = copy_to_memfd(path, err, errlen);
	if (fd < 0)
		return NULL;
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	dl = dlopen(fdpath, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(err, errlen, "plugin %s: %s", path, dlerror());
		close(fd);
		return NULL;
	}
	abi = dlsym(dl, JAZZ_EVENTS_SYM_ABI);
	if (!abi || *abi != JAZZ_EVENTS_ABI_VERSION) {
		snprintf(err, errlen, "plugin %s: %s (want ABI %d)", path,
			 abi ? "wrong jazz_events_abi" : "no jazz_events_abi symbol",
			 JAZZ_EVENTS_ABI_VERSION);
		dlclose(dl);
		close(fd);
		return NULL;
	}
	init = (int (*)(const struct jazz_host_api *))dlsym(dl, JAZZ_EVENTS_SYM_INIT);
	if (init && init(&host_api)) {
		snprintf(err, errlen, "plugin %s: jazz_events_init refused", path);
		dlclose(dl);
		close(fd);
		return NULL;
	}
	p = calloc(1, sizeof(*p) + strlen(path) + 8);
	sprintf(p->name, "plugin:%s", path);
	p->dl = dl;
	p->memfd = fd;
	p->b.name = p->name;
	p->fini = (void (*)(void))dlsym(dl, JAZZ_EVENTS_SYM_FINI);
	conc = dlsym(dl, JAZZ_EVENTS_SYM_CONCURRENT);
	p->b.concurrent = conc && *conc;
	p->b.destroy = p_destroy;
	p->accept_conn = (jazz_accept_conn_fn)dlsym(dl, "accept_conn");
	p->user_key = (jazz_user_key_fn)dlsym(dl, "user_key");
	p->validate_user = (jazz_validate_user_fn)dlsym(dl, "validate_user");
	p->peer_filter = (jazz_peer_filter_fn)dlsym(dl, "peer_filter");
	p->peer_filter_many = (jazz_peer_filter_many_fn)dlsym(dl, "peer_filter_many");
	p->peer_connection = (jazz_peer_connection_fn)dlsym(dl, "peer_connection");
	if (p->accept_conn)
		p->b.accept_conn = p_accept;
	if (p->user_key)
		p->b.user_key = p_user_key;
	if (p->validate_user)
		p->b.validate_user = p_validate;
	if (p->peer_filter)
		p->b.peer_filter = p_filter;
	if (p->peer_filter_many)
		p->b.peer_filter_many = p_filter_many;
	if (p->peer_connection)
		p->b.peer_connection = p_conn;
	jz_info("plugin %s: abi %d, %s%s%s%s%s%s%s", path, *abi,
		p->accept_conn ? "accept_conn " : "", p->user_key ? "user_key " : "",
		p->validate_user ? "validate_user " : "",
		p->peer_filter ? "peer_filter " : "",
		p->peer_filter_many ? "peer_filter_many " : "",
		p->peer_connection ? "peer_connection " : "",
		p->b.concurrent ? "(concurrent)" : "");
	return &p->b;
}
