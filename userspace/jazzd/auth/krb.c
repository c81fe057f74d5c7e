// SPDX-License-Identifier: GPL-2.0
/*
 * krb.c - the two Kerberos login modes (see krb.h and
 * docs/PROTOCOL-kerberos.md). Pure functions over MIT libkrb5: no event loop,
 * no logging, errors as text in the caller's buffer.
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
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* secure_getenv, explicit_bzero */
#endif
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <krb5/krb5.h>

#include "krb.h"

/* Exported by MIT libkrb5 (symbol version krb5_3_MIT) but not declared in
 * its public headers since krb5_rc_resolve_full went away in 1.18; it is
 * the only way to open a replay cache by name without setenv(). */
krb5_error_code k5_rc_resolve(krb5_context ctx, const char *name,
			      krb5_rcache *rc_out);
void k5_rc_close(krb5_context ctx, krb5_rcache rc);

/* The ASN.1 error table of libkrb5 (asn1_err.et): decoding failures. */
#define JZ_ASN1_ERR_BASE 1859794432L

/* Password mode constants; docs/PROTOCOL-kerberos.md. */
#define JZ_PW_VERSION 1
#define JZ_PW_TYPE_LOGIN 1
#define JZ_PW_TYPE_REPLY 2
#define JZ_KU_PW_TIMESTAMP 1400	/* application key usages (RFC 4120 7.5.1) */
#define JZ_KU_PW_REPLY 1401
#define JZ_PW_NONCE_LEN 16
#define JZ_PW_MAGIC_TS "JZTS"
#define JZ_PW_MAGIC_REPLY "JZTR"
#define JZ_PW_KEY_MAX 64

#define JZ_SLOTS_MAX 16

/* Two jiffies at HZ=100: file times come from the tick-granular coarse
 * clock, so a later write within the same tick as our stat() can only
 * happen if the file was that fresh when we loaded it. */
#define KT_RACY_NS 20000000LL	/* 20 ms */

struct jz_slot {
	bool busy;
	krb5_context ctx;
	krb5_keytab kt;		/* the MEMORY copy for a FILE keytab */
	krb5_principal server;	/* NULL: any principal of the keytab */
	krb5_rcache rc;
	bool kt_loaded;		/* kt holds the file as kt_st describes it */
	bool kt_racy;		/* ... but it may have changed since */
	struct stat kt_st;
};

struct jz_replay_ent {
	struct jz_replay_ent *next;
	time_t expire;
	uint64_t who;		/* hash of user NUL realm */
	int64_t ts;
	uint32_t usec;
	unsigned char nonce[JZ_PW_NONCE_LEN];
};

/* Password mode key cache entry (direct-mapped by user/realm/enctype). */
#define JZ_KC_TAG_MAX 32
struct jz_kc_ent {
	bool used;
	int enctype;
	char user[JZ_KRB_NAME_MAX], realm[JZ_KRB_NAME_MAX];
	unsigned char tag[JZ_KC_TAG_MAX];	/* keyed hash of the password */
	size_t tag_len;
	unsigned char key[32];
	size_t key_len;
};

struct jz_krb_server {
	struct jz_krb_server_cfg cfg;	/* strings below are our copies */
	char *keytab, *service, *rcache;
	char *kt_file;		/* a FILE keytab's path (kept in memory), or
				 * NULL: the keytab is used by name */

	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct jz_slot slots[JZ_SLOTS_MAX];
	int n_slots;

	pthread_mutex_t rp_mu;
	struct jz_replay_ent **rp_tab;
	size_t rp_nbuckets, rp_count;
	time_t rp_swept;

	pthread_mutex_t kc_mu;
	struct jz_kc_ent *kc;		/* NULL: key cache off */
	size_t kc_n;
	krb5_keyblock kc_hkey;		/* random key for the password tags */
};

struct jz_krb_client {
	krb5_context ctx;
	krb5_ccache cc;
	krb5_principal client, service;
	krb5_auth_context ac;	/* of the last AP-REQ */
};

struct jz_krb_pw_client {
	krb5_context ctx;
	krb5_keyblock key;
	int64_t ts;
	uint32_t usec;
	unsigned char nonce[JZ_PW_NONCE_LEN];
};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static int seterr(char *err, size_t errlen, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t errlen, int status, const char *fmt, ...)
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
static int krberr(krb5_context ctx, krb5_error_code code, char *err,
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
static int ap_status(krb5_error_code code)
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
	};

	if (status < 0 || (size_t)status >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[status];
}

void jz_krb_buf_free(struct jz_krb_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static int buf_set(struct jz_krb_buf *b, const void *p, size_t len)
{
	b->data = malloc(len ? len : 1);
	if (!b->data)
		return -1;
	if (len)
		memcpy(b->data, p, len);
	b->len = len;
	return 0;
}

static void wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

static bool ct_equal(const void *a, const void *b, size_t n)
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
static int now_of(krb5_context ctx, int64_t *sec, uint32_t *usec)
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

static int apply_offset(krb5_context ctx, int offset)
{
	struct timeval tv;

	if (!offset)
		return 0;
	gettimeofday(&tv, NULL);
	return krb5_set_real_time(ctx, (krb5_timestamp)(tv.tv_sec + offset),
				  tv.tv_usec);
}

/* Split a principal into user (no realm) and realm. */
static int split_princ(krb5_context ctx, krb5_const_principal p,
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
	krb5_error_code code;
	const char *what;

	memset(sl, 0, sizeof(*sl));
	code = krb5_init_context(&sl->ctx);
	if (code) {
		sl->ctx = NULL;
		return seterr(err, errlen, JZ_KRB_EINTERNAL,
			      "krb5_init_context failed (%d)", (int)code);
	}
	what = "time offset";
	code = apply_offset(sl->ctx, s->cfg.time_offset);
	if (code)
		goto fail;
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
static struct jz_slot *slot_get(struct jz_krb_server *s, char *err,
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

static void slot_put(struct jz_krb_server *s, struct jz_slot *sl)
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
static int kt_sync(struct jz_krb_server *s, struct jz_slot *sl, char *err,
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
static int kc_tag(struct jz_krb_server *s, krb5_context ctx, const char *pw,
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
static int kc_get(struct jz_krb_server *s, const char *user, const char *realm,
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

static void kc_put(struct jz_krb_server *s, const char *user, const char *realm,
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
	code = krb5_init_context(&c->ctx);
	if (code) {
		free(c);
		return seterr(err, errlen, JZ_KRB_EINTERNAL,
			      "krb5_init_context failed (%d)", (int)code);
	}
	code = apply_offset(c->ctx, cfg->time_offset);
	if (code) {
		rc = krberr(c->ctx, code, err, errlen, JZ_KRB_EINTERNAL, "time");
		goto fail;
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

/* ------------------------------------------------------------------ */
/* Mode (b): encoding helpers                                           */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	bool over;
};

static void w_bytes(struct wbuf *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->over || w->len + n > w->cap) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void w_u8(struct wbuf *w, unsigned v)
{
	unsigned char b = v;

	w_bytes(w, &b, 1);
}

static void w_be(struct wbuf *w, uint64_t v, int n)
{
	unsigned char b[8];

	for (int i = 0; i < n; i++)
		b[i] = v >> (8 * (n - 1 - i));
	w_bytes(w, b, n);
}

static void w_str8(struct wbuf *w, const void *p, size_t n)
{
	w_u8(w, n);
	w_bytes(w, p, n);
}

struct rbuf {
	const unsigned char *p;
	size_t len, off;
	bool bad;
};

static const unsigned char *r_bytes(struct rbuf *r, size_t n)
{
	const unsigned char *p;

	if (r->bad || r->len - r->off < n) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static uint64_t r_be(struct rbuf *r, int n)
{
	const unsigned char *b = r_bytes(r, n);
	uint64_t v = 0;

	for (int i = 0; b && i < n; i++)
		v = (v << 8) | b[i];
	return v;
}

/* A u8-length-prefixed string into dst (NUL-terminated); non-empty, no NUL. */
static void r_str8(struct rbuf *r, char *dst, size_t dstlen)
{
	size_t n = r_be(r, 1);
	const unsigned char *p = r_bytes(r, n);

	if (!p || n == 0 || n >= dstlen || memchr(p, 0, n)) {
		r->bad = true;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

static int salt_key(krb5_context ctx, int enctype, const char *user,
		    const char *realm, const char *password, krb5_keyblock *kb,
		    char *err, size_t errlen)
{
	char salt_s[2 * JZ_KRB_NAME_MAX];
	krb5_data pw, salt;
	krb5_error_code code;
	int n;

	n = snprintf(salt_s, sizeof(salt_s), "%s%s", realm, user);
	if (n < 0 || (size_t)n >= sizeof(salt_s))
		return seterr(err, errlen, JZ_KRB_EMALFORMED, "name too long");
	pw.magic = salt.magic = KV5M_DATA;
	pw.data = (char *)password;
	pw.length = strlen(password);
	salt.data = salt_s;
	salt.length = n;
	code = krb5_c_string_to_key(ctx, enctype, &pw, &salt, kb);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EUNSUPPORTED,
			      "string-to-key");
	return 0;
}

/* Key for enctype from a password (salted) or a raw key; kb->contents is
 * malloc'd: free with krb5_free_keyblock_contents. */
static int make_key(krb5_context ctx, int enctype, const char *user,
		    const char *realm, const char *password,
		    const unsigned char *raw, size_t raw_len, krb5_keyblock *kb,
		    char *err, size_t errlen)
{
	size_t keybytes, keylen;
	krb5_error_code code;

	memset(kb, 0, sizeof(*kb));
	if (!jz_krb_pw_enctype_ok(enctype))
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "enctype %d not allowed for password login",
			      enctype);
	if (password)
		return salt_key(ctx, enctype, user, realm, password, kb, err,
				errlen);
	code = krb5_c_keylengths(ctx, enctype, &keybytes, &keylen);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EUNSUPPORTED,
			      "key length");
	if (!raw || raw_len != keylen)
		return seterr(err, errlen, JZ_KRB_EBADKEY,
			      "raw key must be %zu bytes, got %zu", keylen,
			      raw_len);
	kb->magic = KV5M_KEYBLOCK;
	kb->enctype = enctype;
	kb->length = keylen;
	kb->contents = malloc(keylen);
	if (!kb->contents)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	memcpy(kb->contents, raw, keylen);
	return 0;
}

static int encrypt_to(krb5_context ctx, const krb5_keyblock *kb, int usage,
		      const unsigned char *pt, size_t ptlen, unsigned char *ct,
		      size_t ctcap, size_t *ctlen, char *err, size_t errlen)
{
	krb5_data in;
	krb5_enc_data out;
	size_t need;
	krb5_error_code code;

	code = krb5_c_encrypt_length(ctx, kb->enctype, ptlen, &need);
	if (code || need > ctcap)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "encrypt length");
	memset(&out, 0, sizeof(out));
	in.magic = KV5M_DATA;
	in.data = (char *)pt;
	in.length = ptlen;
	out.ciphertext.data = (char *)ct;
	out.ciphertext.length = need;
	code = krb5_c_encrypt(ctx, kb, usage, NULL, &in, &out);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EINTERNAL, "encrypt");
	*ctlen = out.ciphertext.length;
	return 0;
}

/* Decrypt into pt (cap ptcap). Integrity failure = wrong key = EBADKEY. */
static int decrypt_to(krb5_context ctx, const krb5_keyblock *kb, int usage,
		      const unsigned char *ct, size_t ctlen, unsigned char *pt,
		      size_t ptcap, size_t *ptlen, const char *bad,
		      char *err, size_t errlen)
{
	krb5_enc_data in;
	krb5_data out;
	krb5_error_code code;

	if (ctlen > ptcap)
		return seterr(err, errlen, JZ_KRB_EMALFORMED, "ciphertext too long");
	memset(&in, 0, sizeof(in));
	in.enctype = kb->enctype;
	in.ciphertext.magic = KV5M_DATA;
	in.ciphertext.data = (char *)ct;
	in.ciphertext.length = ctlen;
	out.magic = KV5M_DATA;
	out.data = (char *)pt;
	out.length = ptcap;
	code = krb5_c_decrypt(ctx, kb, usage, NULL, &in, &out);
	if (code == KRB5KRB_AP_ERR_BAD_INTEGRITY)
		return seterr(err, errlen, JZ_KRB_EBADKEY, "%s", bad);
	if (code)
		return krberr(ctx, code, err, errlen, JZ_KRB_EMALFORMED,
			      "decrypt");
	*ptlen = out.length;
	return 0;
}

#define JZ_PW_PT_MAX (4 + 8 + 4 + JZ_PW_NONCE_LEN + 3 * 256)
#define JZ_PW_CT_MAX (JZ_PW_PT_MAX + 128)
#define JZ_PW_TOKEN_MAX (2 + 4 + 2 * 256 + 2 + JZ_PW_CT_MAX)

/* ------------------------------------------------------------------ */
/* Mode (b): client                                                     */

static int pw_check_names(const char *user, const char *realm, char *err,
			  size_t errlen)
{
	if (!user || !realm || !*user || !*realm ||
	    strlen(user) >= JZ_KRB_NAME_MAX || strlen(realm) >= JZ_KRB_NAME_MAX)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "user and realm must be 1..255 bytes");
	return 0;
}

int jz_krb_pw_client_new(const struct jz_krb_pw_cfg *cfg, const void *cb,
			 size_t cb_len, struct jz_krb_pw_client **out,
			 struct jz_krb_buf *token, char *err, size_t errlen)
{
	struct jz_krb_pw_client *c;
	unsigned char pt[JZ_PW_PT_MAX], ct[JZ_PW_CT_MAX], tok[JZ_PW_TOKEN_MAX];
	struct wbuf w = { pt, 0, sizeof(pt), false };
	struct wbuf t = { tok, 0, sizeof(tok), false };
	int enctype = cfg->enctype ? cfg->enctype : ENCTYPE_AES256_CTS_HMAC_SHA1_96;
	krb5_data rnd;
	krb5_error_code code;
	size_t ctlen;
	int rc;

	*out = NULL;
	token->data = NULL;
	token->len = 0;
	rc = pw_check_names(cfg->user, cfg->realm, err, errlen);
	if (rc)
		return rc;
	if (cb_len > JZ_KRB_CB_MAX)
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "channel binding too long");
	c = calloc(1, sizeof(*c));
	if (!c)
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
	code = krb5_init_context(&c->ctx);
	if (code) {
		free(c);
		return seterr(err, errlen, JZ_KRB_EINTERNAL,
			      "krb5_init_context failed (%d)", (int)code);
	}
	code = apply_offset(c->ctx, cfg->time_offset);
	if (code) {
		rc = krberr(c->ctx, code, err, errlen, JZ_KRB_EINTERNAL, "time");
		goto fail;
	}
	rc = make_key(c->ctx, enctype, cfg->user, cfg->realm, cfg->password,
		      cfg->key, cfg->key_len, &c->key, err, errlen);
	if (rc)
		goto fail;
	rnd.magic = KV5M_DATA;
	rnd.data = (char *)c->nonce;
	rnd.length = sizeof(c->nonce);
	code = krb5_c_random_make_octets(c->ctx, &rnd);
	if (code || now_of(c->ctx, &c->ts, &c->usec)) {
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "random/clock");
		goto fail;
	}
	w_bytes(&w, JZ_PW_MAGIC_TS, 4);
	w_be(&w, (uint64_t)c->ts, 8);
	w_be(&w, c->usec, 4);
	w_bytes(&w, c->nonce, sizeof(c->nonce));
	w_str8(&w, cfg->user, strlen(cfg->user));
	w_str8(&w, cfg->realm, strlen(cfg->realm));
	w_str8(&w, cb, cb ? cb_len : 0);
	rc = encrypt_to(c->ctx, &c->key, JZ_KU_PW_TIMESTAMP, pt, w.len, ct,
			sizeof(ct), &ctlen, err, errlen);
	wipe(pt, sizeof(pt));
	if (rc)
		goto fail;
	w_u8(&t, JZ_PW_VERSION);
	w_u8(&t, JZ_PW_TYPE_LOGIN);
	w_be(&t, (uint32_t)enctype, 4);
	w_str8(&t, cfg->user, strlen(cfg->user));
	w_str8(&t, cfg->realm, strlen(cfg->realm));
	w_be(&t, ctlen, 2);
	w_bytes(&t, ct, ctlen);
	if (t.over || buf_set(token, tok, t.len)) {
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "token");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	jz_krb_pw_client_free(c);
	return rc;
}

void jz_krb_pw_client_free(struct jz_krb_pw_client *c)
{
	if (!c)
		return;
	if (c->key.contents)
		krb5_free_keyblock_contents(c->ctx, &c->key);	/* zeroes it */
	krb5_free_context(c->ctx);
	wipe(c, sizeof(*c));
	free(c);
}

/* Reply token: version, type 2, enctype, u16 length, ciphertext. */
static int parse_reply_hdr(struct rbuf *r, int *enctype, const unsigned char **ct,
			   size_t *ctlen)
{
	unsigned ver = r_be(r, 1), type = r_be(r, 1);

	*enctype = (int32_t)r_be(r, 4);
	*ctlen = r_be(r, 2);
	*ct = r_bytes(r, *ctlen);
	if (r->bad || r->off != r->len || ver != JZ_PW_VERSION ||
	    type != JZ_PW_TYPE_REPLY)
		return -1;
	return 0;
}

int jz_krb_pw_client_reply(struct jz_krb_pw_client *c, const void *reply,
			   size_t len, char *err, size_t errlen)
{
	struct rbuf r = { reply, len, 0, false };
	unsigned char pt[JZ_PW_CT_MAX];
	const unsigned char *ct, *nonce;
	size_t ctlen, ptlen;
	int enctype, rc;
	struct rbuf p;

	if (!reply || len > JZ_PW_TOKEN_MAX || parse_reply_hdr(&r, &enctype, &ct,
							       &ctlen))
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "malformed password reply token");
	if (enctype != c->key.enctype)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "reply enctype differs from ours");
	rc = decrypt_to(c->ctx, &c->key, JZ_KU_PW_REPLY, ct, ctlen, pt,
			sizeof(pt), &ptlen,
			"server failed mutual authentication (reply not made with our key)",
			err, errlen);
	if (rc)
		return rc;
	p = (struct rbuf){ pt, ptlen, 0, false };
	if (!ct_equal(r_bytes(&p, 4) ?: (const unsigned char *)"????",
		      JZ_PW_MAGIC_REPLY, 4))
		p.bad = true;
	nonce = r_bytes(&p, JZ_PW_NONCE_LEN);
	if (!p.bad && (int64_t)r_be(&p, 8) == c->ts &&
	    (uint32_t)r_be(&p, 4) == c->usec && (r_be(&p, 8), true) &&
	    !p.bad && p.off == p.len && ct_equal(nonce, c->nonce, JZ_PW_NONCE_LEN)) {
		wipe(pt, sizeof(pt));
		return 0;
	}
	wipe(pt, sizeof(pt));
	return seterr(err, errlen, JZ_KRB_EBADKEY,
		      "server reply does not echo our nonce and timestamp");
}

/* ------------------------------------------------------------------ */
/* Mode (b): server                                                     */

struct pw_login {
	int enctype;
	char user[JZ_KRB_NAME_MAX], realm[JZ_KRB_NAME_MAX];
	const unsigned char *ct;
	size_t ctlen;
};

static int parse_login(const void *token, size_t len, struct pw_login *l,
		       char *err, size_t errlen)
{
	struct rbuf r = { token, len, 0, false };
	unsigned ver, type;

	if (!token || len > JZ_PW_TOKEN_MAX)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "password token length %zu out of range", len);
	ver = r_be(&r, 1);
	type = r_be(&r, 1);
	if (!r.bad && (ver != JZ_PW_VERSION || type != JZ_PW_TYPE_LOGIN))
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "password token version %u type %u unknown", ver,
			      type);
	l->enctype = (int32_t)r_be(&r, 4);
	r_str8(&r, l->user, sizeof(l->user));
	r_str8(&r, l->realm, sizeof(l->realm));
	l->ctlen = r_be(&r, 2);
	l->ct = r_bytes(&r, l->ctlen);
	if (r.bad || r.off != r.len)
		return seterr(err, errlen, JZ_KRB_EMALFORMED,
			      "password token truncated or has trailing bytes");
	if (!jz_krb_pw_enctype_ok(l->enctype))
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "enctype %d not allowed for password login",
			      l->enctype);
	return 0;
}

int jz_krb_pw_peek(const void *token, size_t len, struct jz_krb_pw_hello *h,
		   char *err, size_t errlen)
{
	struct pw_login l;
	int rc;

	memset(h, 0, sizeof(*h));
	rc = parse_login(token, len, &l, err, errlen);
	if (rc)
		return rc;
	strcpy(h->user, l.user);
	strcpy(h->realm, l.realm);
	h->enctype = l.enctype;
	h->enctype_name = jz_krb_enctype_name(l.enctype);
	return 0;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

static void rp_sweep(struct jz_krb_server *s, time_t now)
{
	for (size_t i = 0; i < s->rp_nbuckets; i++) {
		struct jz_replay_ent **pp = &s->rp_tab[i], *e;

		while ((e = *pp)) {
			if (e->expire < now) {
				*pp = e->next;
				free(e);
				s->rp_count--;
			} else {
				pp = &e->next;
			}
		}
	}
	s->rp_swept = now;
}

/* Remember (who, ts, usec, nonce) until ts + skew; EREPLAY if known. */
static int rp_check_insert(struct jz_krb_server *s, const char *user,
			   const char *realm, int64_t ts, uint32_t usec,
			   const unsigned char *nonce, int64_t now, char *err,
			   size_t errlen)
{
	uint64_t who = fnv1a(fnv1a(0xcbf29ce484222325ULL, user, strlen(user) + 1),
			     realm, strlen(realm) + 1);
	uint64_t h = fnv1a(fnv1a(who, &ts, sizeof(ts)), nonce, JZ_PW_NONCE_LEN);
	struct jz_replay_ent *e, **head;
	int rc = 0;

	pthread_mutex_lock(&s->rp_mu);
	head = &s->rp_tab[h & (s->rp_nbuckets - 1)];
	for (e = *head; e; e = e->next) {
		if (e->who == who && e->ts == ts && e->usec == usec &&
		    !memcmp(e->nonce, nonce, JZ_PW_NONCE_LEN)) {
			rc = seterr(err, errlen, JZ_KRB_EREPLAY,
				    "password token replayed");
			goto out;
		}
	}
	/* Sweep expired entries at most once a second, or when full. */
	if (s->rp_count >= s->cfg.pw_replay_max ||
	    now - s->rp_swept >= s->cfg.max_skew)
		if (now != s->rp_swept)
			rp_sweep(s, now);
	if (s->rp_count >= s->cfg.pw_replay_max) {
		rc = seterr(err, errlen, JZ_KRB_EFULL,
			    "password replay memory full (%zu entries)",
			    s->rp_count);
		goto out;
	}
	e = malloc(sizeof(*e));
	if (!e) {
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "out of memory");
		goto out;
	}
	e->who = who;
	e->ts = ts;
	e->usec = usec;
	memcpy(e->nonce, nonce, JZ_PW_NONCE_LEN);
	e->expire = ts + s->cfg.max_skew + 1;
	e->next = *head;
	*head = e;
	s->rp_count++;
out:
	pthread_mutex_unlock(&s->rp_mu);
	return rc;
}

struct pw_plain {
	int64_t ts;
	uint32_t usec;
	const unsigned char *nonce, *cb;
	size_t cb_len;
	char user[JZ_KRB_NAME_MAX], realm[JZ_KRB_NAME_MAX];
};

static int parse_plain(const unsigned char *pt, size_t ptlen, struct pw_plain *p)
{
	struct rbuf r = { pt, ptlen, 0, false };
	const unsigned char *magic = r_bytes(&r, 4);

	if (!magic || memcmp(magic, JZ_PW_MAGIC_TS, 4))
		return -1;
	p->ts = (int64_t)r_be(&r, 8);
	p->usec = r_be(&r, 4);
	p->nonce = r_bytes(&r, JZ_PW_NONCE_LEN);
	r_str8(&r, p->user, sizeof(p->user));
	r_str8(&r, p->realm, sizeof(p->realm));
	p->cb_len = r_be(&r, 1);
	p->cb = r_bytes(&r, p->cb_len);
	if (r.bad || r.off != r.len || p->usec > 999999)
		return -1;
	return 0;
}

static int pw_make_reply(krb5_context ctx, const krb5_keyblock *kb,
			 const struct pw_plain *p, int64_t now,
			 struct jz_krb_buf *reply, char *err, size_t errlen)
{
	unsigned char pt[64], ct[256], tok[300];
	struct wbuf w = { pt, 0, sizeof(pt), false };
	struct wbuf t = { tok, 0, sizeof(tok), false };
	size_t ctlen;
	int rc;

	w_bytes(&w, JZ_PW_MAGIC_REPLY, 4);
	w_bytes(&w, p->nonce, JZ_PW_NONCE_LEN);
	w_be(&w, (uint64_t)p->ts, 8);
	w_be(&w, p->usec, 4);
	w_be(&w, (uint64_t)now, 8);
	rc = encrypt_to(ctx, kb, JZ_KU_PW_REPLY, pt, w.len, ct, sizeof(ct),
			&ctlen, err, errlen);
	if (rc)
		return rc;
	w_u8(&t, JZ_PW_VERSION);
	w_u8(&t, JZ_PW_TYPE_REPLY);
	w_be(&t, (uint32_t)kb->enctype, 4);
	w_be(&t, ctlen, 2);
	w_bytes(&t, ct, ctlen);
	if (t.over || buf_set(reply, tok, t.len))
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "reply token");
	return 0;
}

/* Everything after the key is known: decrypt and check. */
static int pw_check(struct jz_krb_server *s, krb5_context ctx,
		    const struct pw_login *l, const krb5_keyblock *kb,
		    const void *cb, size_t cb_len, struct jz_krb_buf *reply,
		    char *err, size_t errlen)
{
	unsigned char pt[JZ_PW_CT_MAX];
	struct pw_plain p;
	size_t ptlen;
	int64_t now;
	uint32_t us;
	int rc;

	rc = decrypt_to(ctx, kb, JZ_KU_PW_TIMESTAMP, l->ct, l->ctlen, pt,
			sizeof(pt), &ptlen,
			"wrong password or key (decryption integrity check failed)",
			err, errlen);
	if (rc)
		return rc;
	if (parse_plain(pt, ptlen, &p)) {
		rc = seterr(err, errlen, JZ_KRB_EMALFORMED,
			    "malformed encrypted timestamp");
		goto out;
	}
	if (strcmp(p.user, l->user) || strcmp(p.realm, l->realm)) {
		rc = seterr(err, errlen, JZ_KRB_EBADKEY,
			    "encrypted timestamp is for another user");
		goto out;
	}
	if (now_of(ctx, &now, &us)) {
		rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "clock");
		goto out;
	}
	if (p.ts > now + s->cfg.max_skew || p.ts < now - s->cfg.max_skew) {
		rc = seterr(err, errlen, JZ_KRB_ESKEW,
			    "timestamp is %+lld s from ours (limit %d s)",
			    (long long)(p.ts - now), s->cfg.max_skew);
		goto out;
	}
	if (cb && (p.cb_len != cb_len || !ct_equal(p.cb, cb, cb_len))) {
		rc = seterr(err, errlen, JZ_KRB_ECHANNEL,
			    p.cb_len ? "channel binding does not match this connection"
				     : "token carries no channel binding");
		goto out;
	}
	rc = rp_check_insert(s, l->user, l->realm, p.ts, p.usec, p.nonce, now,
			     err, errlen);
	if (!rc)
		rc = pw_make_reply(ctx, kb, &p, now, reply, err, errlen);
out:
	wipe(pt, sizeof(pt));
	return rc;
}

int jz_krb_pw_verify(struct jz_krb_server *s, const void *token, size_t len,
		     const struct jz_krb_secret *secret,
		     const void *cb, size_t cb_len, struct jz_krb_identity *id,
		     struct jz_krb_buf *reply, char *err, size_t errlen)
{
	struct pw_login l;
	struct jz_slot *sl;
	krb5_keyblock kb;
	unsigned char tag[JZ_KC_TAG_MAX];
	size_t tag_len = 0;
	bool tagged = false, cached = false;
	int rc = 0;

	memset(id, 0, sizeof(*id));
	reply->data = NULL;
	reply->len = 0;
	rc = parse_login(token, len, &l, err, errlen);
	if (rc)
		return rc;
	if (cb_len > JZ_KRB_CB_MAX)
		return seterr(err, errlen, JZ_KRB_EUNSUPPORTED,
			      "channel binding too long");
	if (!secret || (!secret->password && !secret->key))
		return seterr(err, errlen, JZ_KRB_EBADKEY, "no password or key");
	sl = slot_get(s, err, errlen);
	if (!sl)
		return JZ_KRB_EINTERNAL;
	memset(&kb, 0, sizeof(kb));
	if (s->kc && secret->password &&
	    !kc_tag(s, sl->ctx, secret->password, tag, &tag_len)) {
		cached = !kc_get(s, l.user, l.realm, l.enctype, tag, tag_len, &kb);
		tagged = true;
	}
	if (!cached)
		rc = make_key(sl->ctx, l.enctype, l.user, l.realm,
			      secret->password, secret->key, secret->key_len,
			      &kb, err, errlen);
	if (!rc) {
		rc = pw_check(s, sl->ctx, &l, &kb, cb, cb_len, reply, err,
			      errlen);
		/* Only keys that decrypted a token are worth keeping. */
		if (tagged && !cached && rc != JZ_KRB_EBADKEY &&
		    rc != JZ_KRB_EMALFORMED)
			kc_put(s, l.user, l.realm, tag, tag_len, &kb);
		krb5_free_keyblock_contents(sl->ctx, &kb);
	}
	wipe(tag, sizeof(tag));
	slot_put(s, sl);
	if (rc)
		return rc;
	strcpy(id->user, l.user);
	strcpy(id->realm, l.realm);
	id->enctype = l.enctype;
	return 0;
}

int jz_krb_pw_string_to_key(int enctype, const char *user, const char *realm,
			    const char *password, unsigned char *key,
			    size_t *key_len, char *err, size_t errlen)
{
	krb5_context ctx;
	krb5_keyblock kb;
	int rc;

	rc = pw_check_names(user, realm, err, errlen);
	if (rc)
		return rc;
	if (!password)
		return seterr(err, errlen, JZ_KRB_EBADKEY, "no password");
	if (krb5_init_context(&ctx))
		return seterr(err, errlen, JZ_KRB_EINTERNAL, "krb5_init_context");
	rc = make_key(ctx, enctype, user, realm, password, NULL, 0, &kb, err,
		      errlen);
	if (!rc) {
		if (kb.length > 32)
			rc = seterr(err, errlen, JZ_KRB_EINTERNAL, "key too long");
		else
			memcpy(key, kb.contents, kb.length);
		*key_len = rc ? 0 : kb.length;
		krb5_free_keyblock_contents(ctx, &kb);
	}
	krb5_free_context(ctx);
	return rc;
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
