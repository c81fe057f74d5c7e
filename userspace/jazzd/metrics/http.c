// SPDX-License-Identifier: GPL-2.0
/*
 * The metrics listener: libmicrohttpd (Debian's libmicrohttpd-dev; a
 * maintained HTTP/1.1 server rather than a hand-written parser) on its own
 * thread, bound only to the configured address. It answers GET (and HEAD)
 * /metrics and nothing else; a small connection limit, a per-connection
 * memory limit (oversized headers are refused by the library) and an idle
 * timeout keep a hostile scraper from costing the daemon more than a few
 * kilobytes and one thread, and it never touches the event loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/util.h>
#include <microhttpd.h>

#include "metrics.h"

static struct MHD_Daemon *mhd;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								 MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **state)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	char *page;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET /metrics\n");
	/* A GET with a body: refused before reading it. */
	if (*upload_size ||
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	    strtoull(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH) ?: "0", NULL, 10))
		return reply(c, MHD_HTTP_BAD_REQUEST, "no body expected\n");
	if (strcmp(url, "/metrics"))
		return reply(c, MHD_HTTP_NOT_FOUND, "only GET /metrics\n");
	page = jz_metrics_render(&len);
	if (!page)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	r = MHD_create_response_from_buffer(len, page, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(page);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int jz_metrics_start(const char *listen, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;

	if (!listen || !*listen)
		return 0;
	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(listen, (struct sockaddr *)&ss, &sslen) ||
	    !((struct sockaddr_in *)&ss)->sin_port) {
		snprintf(err, errlen, "[metrics] listen: cannot parse '%s' (ip:port or [ip6]:port)",
			 listen);
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL,
			       MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
			       MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
			       MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)8,
			       MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)5,
			       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
			       MHD_OPTION_END);
	if (!mhd) {
		snprintf(err, errlen, "[metrics] listen on %s: %s", listen,
			 errno ? strerror(errno) : "libmicrohttpd could not start");
		return -1;
	}
	return 0;
}

void jz_metrics_stop(void)
{
	if (mhd)
		MHD_stop_daemon(mhd);
	mhd = NULL;
}
