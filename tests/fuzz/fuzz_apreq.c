// SPDX-License-Identifier: GPL-2.0
/* The Kerberos login token (auth/krb_apreq.c): any bytes as the AP-REQ a
 * server verifies, against a service key in a MEMORY keytab. */
#include <krb5/krb5.h>

#include "auth/krb.h"
#include "fuzz.h"

/* kept for the process's life: the MEMORY keytab belongs to it */
static krb5_context ctx;
static krb5_keytab kt;

static void make_keytab(void)
{
	krb5_keytab_entry e = { 0 };
	krb5_data pw = { .data = "servicepw", .length = 9 }, salt;

	if (krb5_init_context(&ctx) || krb5_kt_resolve(ctx, "MEMORY:jazzfuzz", &kt) ||
	    krb5_parse_name(ctx, "jazz/fuzz.test@FUZZ.TEST", &e.principal) ||
	    krb5_principal2salt(ctx, e.principal, &salt) ||
	    krb5_c_string_to_key(ctx, ENCTYPE_AES256_CTS_HMAC_SHA1_96, &pw, &salt, &e.key))
		abort();
	e.vno = 1;
	if (krb5_kt_add_entry(ctx, kt, &e))
		abort();
	krb5_free_keytab_entry_contents(ctx, &e);
	krb5_free_data_contents(ctx, &salt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jz_krb_server *s;
	struct jz_krb_identity id;
	struct jz_krb_buf rep = { 0 };
	char err[256];

	if (!s) {
		struct jz_krb_server_cfg sc = { .keytab = "MEMORY:jazzfuzz",
						.service = "jazz/fuzz.test@FUZZ.TEST",
						.rcache = "none:" };

		fuzz_quiet();
		setenv("KRB5_CONFIG", "/dev/null", 1);
		make_keytab();
		if (jz_krb_server_new(&sc, &s, err, sizeof(err)))
			abort();
	}
	if (!jz_krb_ap_verify(s, data, size, "cb", 2, &id, &rep, err, sizeof(err)))
		jz_krb_buf_free(&rep);
	return 0;
}
