/* SPDX-License-Identifier: GPL-2.0 */
/*
 * simlist.c: the digests of jzsim's devices' lists ("peers_known").
 */
#ifndef JZSIM_SIMLIST_H
#define JZSIM_SIMLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An entry received for @id (its JSON bytes): remembered by id and link
 * state; returns whether it is linked. */
bool simlist_entry(uint32_t id, const char *b, size_t len);
/* The digest of a device's list: the ids set in @seen (bitmaps of @cap
 * bytes), linked where set in @linked. false: an entry is not known. */
bool simlist_digest(const uint8_t *seen, const uint8_t *linked, size_t cap,
		    uint8_t out[32], uint32_t *count);

#endif
