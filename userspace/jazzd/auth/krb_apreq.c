// SPDX-License-Identifier: GPL-2.0
/*
 * krb_apreq.c - login mode (a), AP-REQ: the server's check of an AP-REQ
 * (binding, times, replay cache) and the client's AP-REQ/AP-REP. Must not
 * know the password mode; shared helpers are in krb.c.
 */
#include "krb_int.h"

/* ------------------------------------------------------------------ */
/* Mode (a): AP-REQ, server side                                        */

/* The authenticator checksum carries the channel binding (krb5_mk_req
 * in_data); libkrb5 does not verify it for us outside GSSAPI. */
static int check_ap_binding(krb5_context ctx, krb5_auth_context ac,
			    const void *cb, size_t cb_len, char *err,
			    size_t errlen)
{
	krb5_authenticator *auth = NULL;
	krb5_keyblock *key = NULL;
	krb5_boolean valid = FALSE;
	krb5_data d;
	krb5_error_code code;
	int rc = 0;

	if (!cb)
		return 0;
	code = krb5_auth_con_getauthenticator(ctx, ac, &auth);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL,
			      "authenticator");
	if (!auth->checksum) {
		rc = seterr(err, errlen, JZ_KRB_ECHANNEL,
			    "AP-REQ carries no channel binding");
		goto out;
	}
	code = krb5_auth_con_getkey(ctx, ac, &key);
	if (code || !key) {
		rc = krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL,
			    "session key");
		goto out;
	}
	d.magic = KV5M_DATA;
	d.data = (char *)cb;
	d.length = cb_len;
	code = krb5_c_verify_checksum(ctx, key, KRB5_KEYUSAGE_AP_REQ_AUTH_CKSUM,
				      &d, auth->checksum, &valid);
	if (code || !valid)
		rc = seterr(err, errlen, JZ_KRB_ECHANNEL,
			    "AP-REQ channel binding does not match this connection");
out:
	if (key)
		krb5_free_keyblock(ctx, key);
	krb5_free_authenticator(ctx, auth);
	return rc;
}

/* Our own skew / lifetime checks with cfg.max_skew: krb5_rd_req applies the
 * krb5.conf clockskew (default 300 s), which may be looser. */
static int check_ap_times(krb5_context ctx, krb5_auth_context ac,
			  const krb5_ticket *t, int skew, char *err,
			  size_t errlen)
{
	krb5_authenticator *auth = NULL;
	const krb5_ticket_times *tt = &t->enc_part2->times;
	int64_t now, ctime, end, start;
	uint32_t us;
	krb5_error_code code;
	int rc = 0;

	if (now_of(ctx, &now, &us))
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "clock");
	code = krb5_auth_con_getauthenticator(ctx, ac, &auth);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL,
			      "authenticator");
	ctime = (int64_t)(uint32_t)auth->ctime;
	end = (int64_t)(uint32_t)tt->endtime;
	start = (int64_t)(uint32_t)(tt->starttime ? tt->starttime : tt->authtime);
	if (ctime > now + skew || ctime < now - skew)
		rc = seterr(err, errlen, JZ_KRB_ESKEW,
			    "authenticator time is %+lld s from ours (limit %d s)",
			    (long long)(ctime - now), skew);
	else if (end + skew < now)
		rc = seterr(err, errlen, JZ_KRB_EEXPIRED,
			    "ticket expired %lld s ago", (long long)(now - end));
	else if (start - skew > now)
		rc = seterr(err, errlen, JZ_KRB_EEXPIRED,
			    "ticket not yet valid");
	krb5_free_authenticator(ctx, auth);
	return rc;
}

int jz_krb_ap_verify(struct jz_krb_server *s, const void *ap_req, size_t len,
		     const void *cb, size_t cb_len, struct jz_krb_identity *id,
		     struct jz_krb_buf *ap_rep, char *err, size_t errlen)
{
	struct jz_slot *sl;
	krb5_context ctx;
	krb5_auth_context ac = NULL;
	krb5_ticket *t = NULL;
	krb5_flags opts = 0;
	krb5_data in, out = { 0 };
	krb5_error_code code;
	int rc;

	memset(id, 0, sizeof(*id));
	ap_rep->data = NULL;
	ap_rep->len = 0;
	if (!ap_req || len < 8 || len > JZ_KRB_TOKEN_MAX)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "AP-REQ length %zu out of range", len);
	if (cb_len > JZ_KRB_CB_MAX)
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "channel binding too long");
	sl = slot_get(s, err, errlen);
	if (!sl)
		return JZ_KRB_EINTERNAL;
	ctx = sl->ctx;

	rc = kt_sync(s, sl, err, errlen);
	if (rc) {
		slot_put(s, sl);
		return rc;
	}
	code = krb5_auth_con_init(ctx, &ac);
	if (code) {
		rc = krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL, "auth context");
		goto out;
	}
	code = krb5_auth_con_setrcache(ctx, ac, sl->rc);
	if (code) {
		rc = krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL, "replay cache");
		goto out;
	}
	in.magic = KV5M_DATA;
	in.data = (char *)ap_req;
	in.length = len;
	code = krb5_rd_req(ctx, &ac, &in, sl->server, sl->kt, &opts, &t);
	if (code) {
		rc = krberr(ctx, code, err, errlen, ap_status(code),
			    "AP-REQ rejected");
		goto out;
	}
	rc = check_ap_times(ctx, ac, t, s->cfg.max_skew, err, errlen);
	if (!rc)
		rc = check_ap_binding(ctx, ac, cb, cb_len, err, errlen);
	if (!rc)
		rc = split_princ(ctx, t->enc_part2->client, id, err, errlen);
	if (rc)
		goto out;
	if (!jz_krb_enctype_allowed(s, t->enc_part.enctype) ||
	    !jz_krb_enctype_allowed(s, t->enc_part2->session->enctype)) {
		char a[64] = "?", b[64] = "?";

		krb5_enctype_to_name(t->enc_part.enctype, 0, a, sizeof(a));
		krb5_enctype_to_name(t->enc_part2->session->enctype, 0, b, sizeof(b));
		rc = seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			    "ticket enctype %s / session key %s not accepted", a, b);
		goto out;
	}
	id->enctype = t->enc_part2->session->enctype;
	id->endtime = (time_t)(uint32_t)t->enc_part2->times.endtime;
	if (opts & AP_OPTS_MUTUAL_REQUIRED) {
		code = krb5_mk_rep(ctx, ac, &out);
		if (code) {
			rc = krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL,
				    "AP-REP");
			goto out;
		}
		if (buf_set(ap_rep, out.data, out.length))
			rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	}
out:
	krb5_free_data_contents(ctx, &out);
	if (t)
		krb5_free_ticket(ctx, t);
	if (ac) {
		/* The rcache belongs to the slot, not to this auth context. */
		krb5_auth_con_setrcache(ctx, ac, NULL);
		krb5_auth_con_free(ctx, ac);
	}
	if (rc)
		memset(id, 0, sizeof(*id));
	slot_put(s, sl);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Mode (a): AP-REQ, client side                                        */

static int first_keytab_princ(krb5_context ctx, krb5_keytab kt,
			      krb5_principal *out, char *err, size_t errlen)
{
	krb5_kt_cursor cur;
	krb5_keytab_entry ent;
	krb5_error_code code;

	code = krb5_kt_start_seq_get(ctx, kt, &cur);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_ENOCREDS,
			      "client keytab");
	code = krb5_kt_next_entry(ctx, kt, &ent, &cur);
	krb5_kt_end_seq_get(ctx, kt, &cur);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_ENOCREDS,
			      "client keytab has no entries");
	code = krb5_copy_principal(ctx, ent.principal, out);
	krb5_free_keytab_entry_contents(ctx, &ent);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL, "copy");
	return 0;
}

/* Initial credentials from a client keytab into a private MEMORY ccache. */
static int client_from_keytab(struct jz_krb_client *c,
			      const struct jz_krb_client_cfg *cfg, char *err,
			      size_t errlen)
{
	krb5_context ctx = c->ctx;
	krb5_keytab kt = NULL;
	krb5_creds creds;
	krb5_error_code code;
	int rc;

	memset(&creds, 0, sizeof(creds));
	code = krb5_kt_resolve(ctx, cfg->keytab, &kt);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_ENOCREDS,
			      "client keytab");
	if (cfg->principal) {
		code = krb5_parse_name(ctx, cfg->principal, &c->client);
		if (code) {
			rc = krberr(ctx, code, err, errlen, JZ_KRB_ENOCREDS,
				    "client principal");
			goto out;
		}
	} else {
		rc = first_keytab_princ(ctx, kt, &c->client, err, errlen);
		if (rc)
			goto out;
	}
	code = krb5_get_init_creds_keytab(ctx, &creds, c->client, kt, 0, NULL,
					  NULL);
	if (code) {
		rc = krberr(ctx, code, err, errlen, JZ_KRB_ENOCREDS,
			    "initial credentials from keytab");
		goto out;
	}
	code = krb5_cc_new_unique(ctx, "MEMORY", NULL, &c->cc);
	if (!code)
		code = krb5_cc_initialize(ctx, c->cc, c->client);
	if (!code)
		code = krb5_cc_store_cred(ctx, c->cc, &creds);
	rc = code ? krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL,
			   "memory ccache") : 0;
out:
	krb5_free_cred_contents(ctx, &creds);
	krb5_kt_close(ctx, kt);
	return rc;
}

static int client_service(struct jz_krb_client *c, const char *service,
			  char *err, size_t errlen)
{
	krb5_context ctx = c->ctx;
	krb5_error_code code;

	if (!service || !*service)
		return seterr(err, errlen, JZ_KRB_ENOCREDS, "no service principal");
	if (strchr(service, '@'))
		return krb5_parse_name(ctx, service, &c->service)
			? seterr(err, errlen, JZ_KRB_ENOCREDS,
				 "bad service principal '%s'", service) : 0;
	code = krb5_parse_name_flags(ctx, service,
				     KRB5_PRINCIPAL_PARSE_NO_REALM, &c->service);
	if (!code)
		code = krb5_set_principal_realm(ctx, c->service,
						c->client->realm.data);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_ENOCREDS,
			      "service principal");
	return 0;
}

int jz_krb_client_new(const struct jz_krb_client_cfg *cfg,
		      struct jz_krb_client **out, char *err, size_t errlen)
{
	struct jz_krb_client *c;
	krb5_error_code code;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	rc = context_new(&c->ctx, cfg->time_offset, err, errlen);
	if (rc) {
		free(c);
		return rc;
	}
	if (cfg->keytab) {
		rc = client_from_keytab(c, cfg, err, errlen);
		if (rc)
			goto fail;
	} else {
		code = cfg->ccache ? krb5_cc_resolve(c->ctx, cfg->ccache, &c->cc)
				   : krb5_cc_default(c->ctx, &c->cc);
		if (!code)
			code = krb5_cc_get_principal(c->ctx, c->cc, &c->client);
		if (code) {
			rc = krberr(c->ctx, code, err, errlen, JZ_KRB_ENOCREDS,
				    "credential cache (run kinit?)");
			goto fail;
		}
	}
	rc = client_service(c, cfg->service, err, errlen);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	jz_krb_client_free(c);
	return rc;
}

void jz_krb_client_free(struct jz_krb_client *c)
{
	if (!c)
		return;
	if (c->ac)
		krb5_auth_con_free(c->ctx, c->ac);
	if (c->service)
		krb5_free_principal(c->ctx, c->service);
	if (c->client)
		krb5_free_principal(c->ctx, c->client);
	if (c->cc)
		krb5_cc_close(c->ctx, c->cc);
	krb5_free_context(c->ctx);
	free(c);
}

int jz_krb_client_identity(struct jz_krb_client *c, struct jz_krb_identity *id,
			   char *err, size_t errlen)
{
	memset(id, 0, sizeof(*id));
	return split_princ(c->ctx, c->client, id, err, errlen);
}

int jz_krb_client_ap_req(struct jz_krb_client *c, const void *cb, size_t cb_len,
			 struct jz_krb_buf *ap_req, char *err, size_t errlen)
{
	krb5_context ctx = c->ctx;
	krb5_creds in, *creds = NULL;
	krb5_data d, out = { 0 };
	krb5_error_code code;
	int rc = 0;

	ap_req->data = NULL;
	ap_req->len = 0;
	if (cb_len > JZ_KRB_CB_MAX)
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "channel binding too long");
	if (c->ac) {
		krb5_auth_con_free(ctx, c->ac);
		c->ac = NULL;
	}
	memset(&in, 0, sizeof(in));
	in.client = c->client;
	in.server = c->service;
	code = krb5_get_credentials(ctx, 0, c->cc, &in, &creds);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_ENOCREDS,
			      "service ticket");
	d.magic = KV5M_DATA;
	d.data = (char *)cb;
	d.length = cb_len;
	code = krb5_mk_req_extended(ctx, &c->ac, AP_OPTS_MUTUAL_REQUIRED,
				    cb ? &d : NULL, creds, &out);
	if (code)
		rc = krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL, "AP-REQ");
	else if (buf_set(ap_req, out.data, out.length))
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	krb5_free_data_contents(ctx, &out);
	krb5_free_creds(ctx, creds);
	return rc;
}

int jz_krb_client_ap_rep(struct jz_krb_client *c, const void *ap_rep,
			 size_t len, char *err, size_t errlen)
{
	krb5_ap_rep_enc_part *repl = NULL;
	krb5_data in;
	krb5_error_code code;

	if (!c->ac)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "no AP-REQ pending");
	if (!ap_rep || len == 0 || len > JZ_KRB_TOKEN_MAX)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "AP-REP length %zu out of range", len);
	in.magic = KV5M_DATA;
	in.data = (char *)ap_rep;
	in.length = len;
	code = krb5_rd_rep(c->ctx, c->ac, &in, &repl);
	if (code) {
		int st = ap_status(code);

		if (st == JZ_KRB_EINTERNAL)
			st = JZ_KRB_EBADKEY;	/* e.g. MUT_FAIL */
		return krberr(c->ctx, code, err, errlen, st,
			      "server failed mutual authentication");
	}
	krb5_free_ap_rep_enc_part(c->ctx, repl);
	krb5_auth_con_free(c->ctx, c->ac);
	c->ac = NULL;
	return 0;
}

