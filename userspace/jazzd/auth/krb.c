// SPDX-License-Identifier: GPL-2.0
/*
 * krb.c - what both Kerberos login modes share (see krb.h and
 * docs/PROTOCOL-kerberos.md): error text, enctype names, the clock, the
 * server's slot pool, its in-memory FILE keytab, the password key cache,
 * jz_krb_server_new/free and reload. The AP-REQ path is krb_apreq.c, the
 * encrypted-timestamp password path krb_pw.c; this file must not hold
 * either mode's token logic. Pure functions over MIT libkrb5: no event
 * loop, no logging, errors as text in the caller's buffer.
 *
 * A krb5_context must not be used by two threads at once, so a server keeps
 * a small pool of "slots", each with its own context, keytab handle and
 * replay-cache handle; a call borrows a free slot. All slots share the
 * same on-disk replay cache (file2, which locks per open file description),
 * and one in-memory replay table for the password mode.
 *
 * A FILE keytab is not read on every check: each slot keeps a MEMORY copy
 * and stat()s the file before each check, loading it again when the file
 * is another one or has changed (inode, size, mtime, ctime), so a rotated
 * key is used at once without a restart. A file changed less than
 * KT_RACY_NS before it was loaded is loaded again on the next check too
 * (file times tick in jiffies: a second write in the same tick would not
 * show in them).
 */
#include "krb_int.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

int seterr(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return status;
}

/* "what: <libkrb5 message>" into err; returns status. */
int krberr(krb5_context ctx, krb5_error_code code, char *err,
	   size_t errlen, int status, const char *what)
{
	const char *msg = ctx ? krb5_get_error_message(ctx, code) : NULL;

	seterr(err, errlen, status, "%s: %s", what,
	       msg ? msg : "unknown Kerberos error");
	if (msg)
		krb5_free_error_message(ctx, msg);
	return status;
}

/* Map a libkrb5 error of the AP-REQ path to a status. */
int ap_status(krb5_error_code code)
{
	switch (code) {
	case KRB5KRB_AP_ERR_REPEAT:
		return JZ_KRB_EREPLAY;
	case KRB5KRB_AP_ERR_SKEW:
		return JZ_KRB_ESKEW;
	case KRB5KRB_AP_ERR_TKT_EXPIRED:
	case KRB5KRB_AP_ERR_TKT_NYV:
		return JZ_KRB_EEXPIRED;
	case KRB5KRB_AP_ERR_BAD_INTEGRITY:
	case KRB5KRB_AP_ERR_BADKEYVER:
	case KRB5KRB_AP_ERR_NOKEY:
	case KRB5KRB_AP_ERR_MODIFIED:
	case KRB5_KT_NOTFOUND:
	case KRB5_KT_KVNONOTFOUND:
		return JZ_KRB_EBADKEY;
	case KRB5KRB_AP_ERR_NOT_US:
	case KRB5KRB_AP_WRONG_PRINC:
		return JZ_KRB_EWRONGPRINC;
	case KRB5KRB_AP_ERR_BADVERSION:
	case KRB5KRB_AP_ERR_MSG_TYPE:
	case KRB5KRB_AP_ERR_BADMATCH:
	case KRB5_BADMSGTYPE:
		return JZ_KRB_EMALFORMED;
	case KRB5_BAD_ENCTYPE:
	case KRB5_PROG_ETYPE_NOSUPP:
		return JZ_KRB_EUNSUPPORTED;
	}
	if (code >= JZ_ASN1_ERR_BASE && code < JZ_ASN1_ERR_BASE + 256)
		return JZ_KRB_EMALFORMED;
	return JZ_KRB_EINTERNAL;
}

const char *jz_krb_status_name(int status)
{
	static const char *const names[] = {
		[JZ_KRB_OK] = "ok",
		[JZ_KRB_EMALFORMED] = "malformed",
		[JZ_KRB_EBADKEY] = "bad-key",
		[JZ_KRB_EREPLAY] = "replay",
		[JZ_KRB_ESKEW] = "skew",
		[JZ_KRB_EEXPIRED] = "expired",
		[JZ_KRB_ECHANNEL] = "channel-binding",
		[JZ_KRB_EUNSUPPORTED] = "unsupported",
		[JZ_KRB_ENOCREDS] = "no-credentials",
		[JZ_KRB_EWRONGPRINC] = "wrong-principal",
		[JZ_KRB_EFULL] = "replay-memory-full",
		[JZ_KRB_EINTERNAL] = "internal",
		[JZ_KRB_ELIMIT] = "rate-limited",
	};

	if (status < 0 || (size_t)status >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[status];
}

int jz_krb_enctypes_parse(const char *list, int *out, size_t max, size_t *n,
			  char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;

	*n = 0;
	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	for (tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		krb5_enctype e;

		if (krb5_string_to_enctype(tok, &e) || *n >= max) {
			snprintf(err, errlen, *n >= max ? "too many enctypes"
				 : "unknown enctype %s", tok);
			return -1;
		}
		out[(*n)++] = e;
	}
	return 0;
}

bool jz_krb_enctype_allowed(const struct jz_krb_server *s, int enctype)
{
	if (!s->cfg.n_enctypes)
		return true;
	for (size_t i = 0; i < s->cfg.n_enctypes; i++)
		if (s->cfg.enctypes[i] == enctype)
			return true;
	return false;
}

void jz_krb_buf_free(struct jz_krb_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

int buf_set(struct jz_krb_buf *b, const void *p, size_t len)
{
	b->data = malloc(len ? len : 1);
	if (!b->data)
		return -1;
	if (len)
		memcpy(b->data, p, len);
	b->len = len;
	return 0;
}

void wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

bool ct_equal(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int jz_krb_enctype_from_name(const char *name)
{
	krb5_enctype e;

	if (!name || krb5_string_to_enctype((char *)name, &e))
		return -1;
	return e;
}

const char *jz_krb_enctype_name(int enctype)
{
	switch (enctype) {
	case ENCTYPE_AES256_CTS_HMAC_SHA1_96:
		return "aes256-cts-hmac-sha1-96";
	case ENCTYPE_AES256_CTS_HMAC_SHA384_192:
		return "aes256-cts-hmac-sha384-192";
	case ENCTYPE_AES128_CTS_HMAC_SHA1_96:
		return "aes128-cts-hmac-sha1-96";
	case ENCTYPE_AES128_CTS_HMAC_SHA256_128:
		return "aes128-cts-hmac-sha256-128";
	}
	return "?";
}

int jz_krb_pw_enctype_ok(int enctype)
{
	return enctype == ENCTYPE_AES256_CTS_HMAC_SHA1_96 ||
	       enctype == ENCTYPE_AES256_CTS_HMAC_SHA384_192;
}

/* Current time of a context (honours krb5_set_real_time offsets). */
int now_of(krb5_context ctx, int64_t *sec, uint32_t *usec)
{
	krb5_timestamp s;
	krb5_int32 us;

	if (krb5_us_timeofday(ctx, &s, &us))
		return -1;
	/* krb5_timestamp is a signed 32-bit value used as unsigned. */
	*sec = (int64_t)(uint32_t)s;
	*usec = (uint32_t)us;
	return 0;
}

static krb5_error_code apply_offset(krb5_context ctx, int offset)
{
	struct timeval tv;

	if (!offset)
		return 0;
	gettimeofday(&tv, NULL);
	return krb5_set_real_time(ctx, (krb5_timestamp)(tv.tv_sec + offset),
				  tv.tv_usec);
}

/*
 * A krb5 context of our own whose clock runs @offset seconds off the
 * system's (tests and a skewed KDC). On failure *ctx is NULL.
 */
int context_new(krb5_context *ctx, int offset, char *err, size_t errlen)
{
	krb5_error_code code;

	code = krb5_init_context(ctx);
	if (code) {
		*ctx = NULL;
		return seterr(err, errlen, JZ_KRB_EINTERNAL,
			      "krb5_init_context failed (%d)", (int)code);
	}
	code = apply_offset(*ctx, offset);
	if (code) {
		krberr(*ctx, code, err, errlen, JZ_KRB_EINTERNAL, "time offset");
		krb5_free_context(*ctx);
		*ctx = NULL;
		return JZ_KRB_EINTERNAL;
	}
	return 0;
}

/* Split a principal into user (no realm) and realm. */
int split_princ(krb5_context ctx, krb5_const_principal p,
		struct jz_krb_identity *id, char *err, size_t errlen)
{
	char *name = NULL;
	krb5_error_code code;
	const krb5_data *r = &p->realm;

	code = krb5_unparse_name_flags(ctx, p, KRB5_PRINCIPAL_UNPARSE_NO_REALM,
				       &name);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL,
			      "unparse client name");
	if (strlen(name) >= sizeof(id->user) || r->length >= sizeof(id->realm)) {
		krb5_free_unparsed_name(ctx, name);
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "client principal too long");
	}
	strcpy(id->user, name);
	memcpy(id->realm, r->data, r->length);
	id->realm[r->length] = '\0';
	krb5_free_unparsed_name(ctx, name);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Server: slots                                                        */

static void slot_fini(struct jz_slot *sl)
{
	if (!sl->ctx)
		return;
	if (sl->rc)
		k5_rc_close(sl->ctx, sl->rc);
	if (sl->kt)
		krb5_kt_close(sl->ctx, sl->kt);
	if (sl->server)
		krb5_free_principal(sl->ctx, sl->server);
	krb5_free_context(sl->ctx);
	memset(sl, 0, sizeof(*sl));
}

static int slot_init(struct jz_krb_server *s, struct jz_slot *sl, char *err,
		     size_t errlen)
{
	krb5_error_code code = 0;
	const char *what;

	memset(sl, 0, sizeof(*sl));
	if (context_new(&sl->ctx, s->cfg.time_offset, err, errlen))
		return JZ_KRB_EINTERNAL;
	what = "keytab";
	if (!s->kt_file)	/* a FILE keytab is loaded by kt_sync */
		code = s->keytab ? krb5_kt_resolve(sl->ctx, s->keytab, &sl->kt)
				 : krb5_kt_default(sl->ctx, &sl->kt);
	if (code)
		goto fail;
	if (s->service) {
		what = "service principal";
		code = krb5_parse_name(sl->ctx, s->service, &sl->server);
		if (code)
			goto fail;
	}
	what = "replay cache";
	code = k5_rc_resolve(sl->ctx, s->rcache, &sl->rc);
	if (code)
		goto fail;
	return 0;
fail:
	krberr(sl->ctx, code, err, errlen, JZ_KRB_EINTERNAL, what);
	slot_fini(sl);
	return JZ_KRB_EINTERNAL;
}

/* Borrow a slot; blocks while all JZ_SLOTS_MAX are busy. */
struct jz_slot *slot_get(struct jz_krb_server *s, char *err,
			 size_t errlen)
{
	struct jz_slot *sl = NULL;

	pthread_mutex_lock(&s->pool_mu);
	for (;;) {
		for (int i = 0; i < s->n_slots; i++) {
			if (!s->slots[i].busy) {
				sl = &s->slots[i];
				break;
			}
		}
		if (sl || s->n_slots < JZ_SLOTS_MAX)
			break;
		pthread_cond_wait(&s->pool_cv, &s->pool_mu);
	}
	if (!sl) {
		sl = &s->slots[s->n_slots];
		/* Made under the lock: rare (once per concurrent caller). */
		if (slot_init(s, sl, err, errlen)) {
			pthread_mutex_unlock(&s->pool_mu);
			return NULL;
		}
		s->n_slots++;
	}
	sl->busy = true;
	pthread_mutex_unlock(&s->pool_mu);
	return sl;
}

void slot_put(struct jz_krb_server *s, struct jz_slot *sl)
{
	pthread_mutex_lock(&s->pool_mu);
	sl->busy = false;
	pthread_cond_signal(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
}

/* ---- FILE keytab kept in memory ------------------------------------- */

/* The path of a FILE keytab name ("FILE:/p", "WRFILE:/p", "/p"); NULL for
 * other types (MEMORY:, DIR:, KEYRING:...), which are used by name. */
static char *kt_file_of(const char *name)
{
	if (!strncmp(name, "FILE:", 5))
		return strdup(name + 5);
	if (!strncmp(name, "WRFILE:", 7))
		return strdup(name + 7);
	if (name[0] == '/' || !strchr(name, ':'))
		return strdup(name);
	return NULL;
}

static bool st_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static long long ts_ns(const struct timespec *t)
{
	return t->tv_sec * 1000000000LL + t->tv_nsec;
}

/*
 * Copy every entry of the file into a new MEMORY keytab of this slot. A
 * name is never reused; libkrb5 frees a MEMORY keytab (and wipes its keys)
 * when its last handle is closed, so the old copy goes away as soon as the
 * slot drops it.
 */
static krb5_error_code kt_load(struct jz_krb_server *s, struct jz_slot *sl)
{
	static atomic_uint serial;
	krb5_context ctx = sl->ctx;
	krb5_keytab ft = NULL, mt = NULL;
	krb5_kt_cursor cur;
	krb5_keytab_entry ent;
	krb5_error_code code, c2 = 0;
	char name[64], *fname;

	if (asprintf(&fname, "FILE:%s", s->kt_file) < 0)
		return ENOMEM;
	snprintf(name, sizeof(name), "MEMORY:jazzd-kt-%ld-%u", (long)getpid(),
		 atomic_fetch_add(&serial, 1));
	code = krb5_kt_resolve(ctx, fname, &ft);
	free(fname);
	if (!code)
		code = krb5_kt_resolve(ctx, name, &mt);
	if (!code)
		code = krb5_kt_start_seq_get(ctx, ft, &cur);	/* read-locks */
	if (code)
		goto out;
	while (!c2 && !(code = krb5_kt_next_entry(ctx, ft, &ent, &cur))) {
		c2 = krb5_kt_add_entry(ctx, mt, &ent);
		krb5_free_keytab_entry_contents(ctx, &ent);
	}
	krb5_kt_end_seq_get(ctx, ft, &cur);
	code = c2 ? c2 : code == KRB5_KT_END ? 0 : code;
out:
	if (ft)
		krb5_kt_close(ctx, ft);
	if (code) {
		if (mt)
			krb5_kt_close(ctx, mt);
		return code;
	}
	if (sl->kt)
		krb5_kt_close(ctx, sl->kt);
	sl->kt = mt;
	return 0;
}

/* Before a check: the slot's copy of a FILE keytab is the file as it is. */
int kt_sync(struct jz_krb_server *s, struct jz_slot *sl, char *err,
	    size_t errlen)
{
	struct timespec now;
	struct stat st;
	krb5_error_code code;

	if (!s->kt_file)
		return 0;
	if (stat(s->kt_file, &st)) {
		code = errno;
		sl->kt_loaded = false;
		return krberr(sl->ctx, code, err, errlen, JZ_KRB_EINTERNAL, "keytab");
	}
	if (sl->kt_loaded && !sl->kt_racy && st_same(&st, &sl->kt_st))
		return 0;
	code = kt_load(s, sl);
	if (code) {
		sl->kt_loaded = false;
		return krberr(sl->ctx, code, err, errlen, JZ_KRB_EINTERNAL, "keytab");
	}
	clock_gettime(CLOCK_REALTIME, &now);
	sl->kt_st = st;
	sl->kt_loaded = true;
	sl->kt_racy = ts_ns(&now) - ts_ns(&st.st_mtim) < KT_RACY_NS ||
		      ts_ns(&now) - ts_ns(&st.st_ctim) < KT_RACY_NS;
	return 0;
}

/* ---- password key cache -------------------------------------------- */

static int kc_init(struct jz_krb_server *s, char *err, size_t errlen)
{
	krb5_context ctx = s->slots[0].ctx;
	krb5_error_code code;
	int n = s->cfg.pw_key_cache;

	if (n < 0)
		return 0;
	s->kc_n = n ? (size_t)n : 1024;
	s->kc = calloc(s->kc_n, sizeof(*s->kc));
	if (!s->kc)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	code = krb5_c_make_random_key(ctx, ENCTYPE_AES256_CTS_HMAC_SHA384_192,
				      &s->kc_hkey);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL,
			      "key cache key");
	return 0;
}

/* Keyed hash of the password: a cache hit needs the same password, and the
 * cache never holds anything that would help guess it offline. */
int kc_tag(struct jz_krb_server *s, krb5_context ctx, const char *pw,
	   unsigned char *tag, size_t *tag_len)
{
	krb5_checksum ck;
	krb5_data d;

	d.magic = KV5M_DATA;
	d.data = (char *)pw;
	d.length = strlen(pw);
	if (krb5_c_make_checksum(ctx, CKSUMTYPE_HMAC_SHA384_192_AES256,
				 &s->kc_hkey, JZ_KU_PW_TIMESTAMP, &d, &ck))
		return -1;
	if (ck.length > JZ_KC_TAG_MAX) {
		krb5_free_checksum_contents(ctx, &ck);
		return -1;
	}
	memcpy(tag, ck.contents, ck.length);
	*tag_len = ck.length;
	krb5_free_checksum_contents(ctx, &ck);
	return 0;
}

static struct jz_kc_ent *kc_slot(struct jz_krb_server *s, const char *user,
				 const char *realm, int enctype)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p;

	for (p = (const unsigned char *)user; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ '@') * 0x100000001b3ULL;
	for (p = (const unsigned char *)realm; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ (unsigned)enctype) * 0x100000001b3ULL;
	return &s->kc[h % s->kc_n];
}

/* Copy a cached key into kb (malloc'd contents); 0 = hit. */
int kc_get(struct jz_krb_server *s, const char *user, const char *realm,
	   int enctype, const unsigned char *tag, size_t tag_len,
	   krb5_keyblock *kb)
{
	struct jz_kc_ent *e;
	int rc = -1;

	pthread_mutex_lock(&s->kc_mu);
	e = kc_slot(s, user, realm, enctype);
	if (e->used && e->enctype == enctype && e->tag_len == tag_len &&
	    !strcmp(e->user, user) && !strcmp(e->realm, realm) &&
	    ct_equal(e->tag, tag, tag_len)) {
		kb->contents = malloc(e->key_len);
		if (kb->contents) {
			memcpy(kb->contents, e->key, e->key_len);
			kb->magic = KV5M_KEYBLOCK;
			kb->enctype = enctype;
			kb->length = e->key_len;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&s->kc_mu);
	return rc;
}

void kc_put(struct jz_krb_server *s, const char *user, const char *realm,
	    const unsigned char *tag, size_t tag_len,
	    const krb5_keyblock *kb)
{
	struct jz_kc_ent *e;

	if (kb->length > sizeof(e->key))
		return;
	pthread_mutex_lock(&s->kc_mu);
	e = kc_slot(s, user, realm, kb->enctype);
	wipe(e, sizeof(*e));
	e->used = true;
	e->enctype = kb->enctype;
	strcpy(e->user, user);
	strcpy(e->realm, realm);
	memcpy(e->tag, tag, tag_len);
	e->tag_len = tag_len;
	memcpy(e->key, kb->contents, kb->length);
	e->key_len = kb->length;
	pthread_mutex_unlock(&s->kc_mu);
}

static char *dup_or_null(const char *p, bool *fail)
{
	char *d;

	if (!p)
		return NULL;
	d = strdup(p);
	if (!d)
		*fail = true;
	return d;
}

/* Which file, if any, the keytab name (or the default keytab) is. */
static int kt_file_init(struct jz_krb_server *s)
{
	char name[1024];
	krb5_context ctx;
	int rc = 0;

	if (s->keytab) {
		s->kt_file = kt_file_of(s->keytab);
		return 0;
	}
	if (krb5_init_context(&ctx))
		return -1;
	if (!krb5_kt_default_name(ctx, name, sizeof(name)))
		s->kt_file = kt_file_of(name);
	else
		rc = -1;
	krb5_free_context(ctx);
	return rc;
}

int jz_krb_server_new(const struct jz_krb_server_cfg *cfg,
		      struct jz_krb_server **out, char *err, size_t errlen)
{
	struct jz_krb_server *s;
	bool fail = false;
	const char *rcname;
	size_t nb = 256;
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	s->cfg = *cfg;
	if (s->cfg.max_skew <= 0)
		s->cfg.max_skew = JZ_KRB_DEFAULT_SKEW;
	if (!s->cfg.pw_replay_max)
		s->cfg.pw_replay_max = 100000;
	s->keytab = dup_or_null(cfg->keytab, &fail);
	s->service = dup_or_null(cfg->service, &fail);
	if (!fail)
		fail = kt_file_init(s) != 0;
	/* NULL: what libkrb5 would use by default ("dfl:" = file2 under
	 * KRB5RCACHEDIR or /var/tmp), unless KRB5RCACHENAME says otherwise. */
	rcname = cfg->rcache ? cfg->rcache : secure_getenv("KRB5RCACHENAME");
	s->rcache = dup_or_null(rcname ? rcname : "dfl:", &fail);
	while (nb < s->cfg.pw_replay_max / 4 && nb < (1u << 20))
		nb <<= 1;
	s->rp_nbuckets = nb;
	s->rp_tab = calloc(nb, sizeof(*s->rp_tab));
	if (fail || !s->rp_tab) {
		jz_krb_server_free(s);
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	}
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	pthread_mutex_init(&s->rp_mu, NULL);
	pthread_mutex_init(&s->kc_mu, NULL);
	/* One slot now, so that a bad keytab/principal/rcache fails here. */
	rc = slot_init(s, &s->slots[0], err, errlen);
	if (rc) {
		jz_krb_server_free(s);
		return rc;
	}
	s->n_slots = 1;
	rc = kc_init(s, err, errlen);
	if (rc) {
		jz_krb_server_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

void jz_krb_server_free(struct jz_krb_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n_slots; i++)
		slot_fini(&s->slots[i]);
	if (s->rp_tab) {
		for (size_t i = 0; i < s->rp_nbuckets; i++) {
			struct jz_replay_ent *e = s->rp_tab[i], *n;

			for (; e; e = n) {
				n = e->next;
				free(e);
			}
		}
		free(s->rp_tab);
		pthread_mutex_destroy(&s->pool_mu);
		pthread_cond_destroy(&s->pool_cv);
		pthread_mutex_destroy(&s->rp_mu);
		pthread_mutex_destroy(&s->kc_mu);
	}
	if (s->kc) {
		wipe(s->kc, s->kc_n * sizeof(*s->kc));
		free(s->kc);
	}
	wipe(s->kc_hkey.contents, s->kc_hkey.length);
	free(s->kc_hkey.contents);
	free(s->keytab);
	free(s->kt_file);
	free(s->service);
	free(s->rcache);
	free(s);
}

/* ------------------------------------------------------------------ */
/* Reload                                                               */

void jz_krb_server_adopt(struct jz_krb_server *n, struct jz_krb_server *o)
{
	if (!n || !o || n == o)
		return;
	pthread_mutex_lock(&o->rp_mu);
	pthread_mutex_lock(&n->rp_mu);
	for (size_t i = 0; i < o->rp_nbuckets; i++) {
		struct jz_replay_ent *e = o->rp_tab[i], *next;

		for (; e; e = next) {
			uint64_t h = fnv1a(fnv1a(e->who, &e->ts, sizeof(e->ts)),
					   e->nonce, JZ_PW_NONCE_LEN);
			struct jz_replay_ent **head =
				&n->rp_tab[h & (n->rp_nbuckets - 1)];

			next = e->next;
			/* Kept even past the new limit: forgetting is worse. */
			e->next = *head;
			*head = e;
			n->rp_count++;
		}
		o->rp_tab[i] = NULL;
	}
	o->rp_count = 0;
	pthread_mutex_unlock(&n->rp_mu);
	pthread_mutex_unlock(&o->rp_mu);

	pthread_mutex_lock(&o->kc_mu);
	pthread_mutex_lock(&n->kc_mu);
	if (n->kc && o->kc && n->kc_n == o->kc_n &&
	    n->kc_hkey.length == o->kc_hkey.length) {
		/* Same geometry: take the entries and the tag key with them. */
		struct jz_kc_ent *t = n->kc;
		krb5_keyblock k = n->kc_hkey;

		n->kc = o->kc;
		o->kc = t;
		n->kc_hkey = o->kc_hkey;
		o->kc_hkey = k;
	}
	pthread_mutex_unlock(&n->kc_mu);
	pthread_mutex_unlock(&o->kc_mu);
}
