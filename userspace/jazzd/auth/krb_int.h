/* SPDX-License-Identifier: GPL-2.0 */
/*
 * krb_int.h - what the files of auth/ share: libkrb5 declarations, the
 * password mode's constants, the server/client structs and the helpers one
 * file calls in another. Internal to auth/: other folders include krb.h.
 */
#ifndef JAZZD_KRB_INT_H
#define JAZZD_KRB_INT_H

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
/* ... and stores a tag of the ciphertext; KRB5KRB_AP_ERR_REPEAT if known. */
krb5_error_code k5_rc_store(krb5_context ctx, krb5_rcache rc,
			    const krb5_enc_data *authenticator);

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

bool jz_krb_enctype_allowed(const struct jz_krb_server *s, int enctype);

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

/* Shared by the files of this folder only; hidden from dlopen()ed plugins. */
#pragma GCC visibility push(hidden)
int seterr(char *err, size_t errlen, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int krberr(krb5_context ctx, krb5_error_code code, char *err,
	   size_t errlen, int status, const char *what);
int ap_status(krb5_error_code code);
int buf_set(struct jz_krb_buf *b, const void *p, size_t len);
void wipe(void *p, size_t n);
bool ct_equal(const void *a, const void *b, size_t n);
int now_of(krb5_context ctx, int64_t *sec, uint32_t *usec);
int context_new(krb5_context *ctx, int offset, char *err, size_t errlen);
int split_princ(krb5_context ctx, krb5_const_principal p,
		struct jz_krb_identity *id, char *err, size_t errlen);
struct jz_slot *slot_get(struct jz_krb_server *s, char *err,
			 size_t errlen);
void slot_put(struct jz_krb_server *s, struct jz_slot *sl);
int kt_sync(struct jz_krb_server *s, struct jz_slot *sl, char *err,
	    size_t errlen);
int kc_tag(struct jz_krb_server *s, krb5_context ctx, const char *pw,
	   unsigned char *tag, size_t *tag_len);
int kc_get(struct jz_krb_server *s, const char *user, const char *realm,
	   int enctype, const unsigned char *tag, size_t tag_len,
	   krb5_keyblock *kb);
void kc_put(struct jz_krb_server *s, const char *user, const char *realm,
	    const unsigned char *tag, size_t tag_len,
	    const krb5_keyblock *kb);
uint64_t fnv1a(uint64_t h, const void *p, size_t n);
#pragma GCC visibility pop

#endif
