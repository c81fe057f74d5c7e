// SPDX-License-Identifier: GPL-2.0
/* The password login's tokens (auth/krb_pw.c): the server's peek and
 * verify of a LOGIN token, and the client's check of a REPLY token. */
#include "auth/krb.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jz_krb_server *s;
	static struct jz_krb_pw_client *c;
	struct jz_krb_secret sec = { .password = "fuzzpw" };
	struct jz_krb_identity id;
	struct jz_krb_pw_hello h;
	struct jz_krb_buf reply = { 0 }, tok = { 0 };
	char err[256];

	if (!s) {
		struct jz_krb_server_cfg sc = { .pw_key_cache = 0 };
		struct jz_krb_pw_cfg pc = { .user = "fuzz", .realm = "FUZZ.TEST",
					    .password = "fuzzpw" };

		fuzz_quiet();
		setenv("KRB5_CONFIG", "/dev/null", 1);
		if (jz_krb_server_new(&sc, &s, err, sizeof(err)) ||
		    jz_krb_pw_client_new(&pc, "cb", 2, &c, &tok, err, sizeof(err)))
			abort();
		jz_krb_buf_free(&tok);
	}
	jz_krb_pw_peek(data, size, &h, err, sizeof(err));
	if (!jz_krb_pw_verify(s, data, size, &sec, NULL, 0, &id, &reply, err, sizeof(err)))
		jz_krb_buf_free(&reply);
	jz_krb_pw_client_reply(c, data, size, err, sizeof(err));
	return 0;
}
