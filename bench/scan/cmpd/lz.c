// LZSS with a 4 KiB window and hash chains. Format: a 4-byte little-endian
// uncompressed length, then groups of one flag byte (bit k set: item k is a
// match) and 8 items; a literal is one byte, a match two bytes: 12-bit
// distance-1 and 4-bit length-3 (lengths 3..18).
#include <stdlib.h>
#include <string.h>

#include "cmpd.h"

#define WINDOW 4096
#define MIN_MATCH 3
#define MAX_MATCH 18
#define HASH_BITS 13
#define MAX_CHAIN 64

static unsigned hash3(const uint8_t *p) {
	return ((unsigned)p[0] << 10 ^ (unsigned)p[1] << 5 ^ p[2]) & ((1u << HASH_BITS) - 1);
}

void lz_compress(buf_t *out, const uint8_t *src, size_t n) {
	uint8_t hdr[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
	buf_put(out, hdr, 4);
	int32_t *head = malloc(sizeof(int32_t) << HASH_BITS);
	int32_t *prev = malloc(sizeof(int32_t) * (n ? n : 1));
	if (!head || !prev) {
		free(head);
		free(prev);
		return;
	}
	for (size_t k = 0; k < (1u << HASH_BITS); k++) {
		head[k] = -1;
	}
	size_t i = 0;
	while (i < n) {
		size_t flagpos = out->len;
		uint8_t flags = 0;
		buf_putc(out, 0);
		for (int item = 0; item < 8 && i < n; item++) {
			size_t best = 0, bestdist = 0;
			if (i + MIN_MATCH <= n) {
				unsigned h = hash3(src + i);
				int32_t cand = head[h];
				for (int chain = 0; cand >= 0 && chain < MAX_CHAIN; chain++) {
					size_t dist = i - (size_t)cand;
					if (dist > WINDOW) {
						break;
					}
					size_t l = 0;
					while (l < MAX_MATCH && i + l < n && src[(size_t)cand + l] == src[i + l]) {
						l++;
					}
					if (l > best) {
						best = l;
						bestdist = dist;
						if (l == MAX_MATCH) {
							break;
						}
					}
					cand = prev[cand];
				}
			}
			size_t adv = best >= MIN_MATCH ? best : 1;
			if (best >= MIN_MATCH) {
				flags |= (uint8_t)(1u << item);
				unsigned d = (unsigned)(bestdist - 1), l = (unsigned)(best - MIN_MATCH);
				uint8_t m[2] = {(uint8_t)(d >> 4), (uint8_t)((d & 15) << 4 | l)};
				buf_put(out, m, 2);
			} else {
				buf_putc(out, (char)src[i]);
			}
			for (size_t k = 0; k < adv; k++, i++) {
				if (i + MIN_MATCH <= n) {
					unsigned h = hash3(src + i);
					prev[i] = head[h];
					head[h] = (int32_t)i;
				}
			}
		}
		out->p[flagpos] = (char)flags;
	}
	free(head);
	free(prev);
}

int lz_decompress(buf_t *out, const uint8_t *src, size_t n, size_t limit) {
	if (n < 4) {
		return -1;
	}
	size_t want = (size_t)src[0] | (size_t)src[1] << 8 | (size_t)src[2] << 16 | (size_t)src[3] << 24;
	if (want > limit) {
		return -1;
	}
	size_t base = out->len, i = 4;
	while (out->len - base < want) {
		if (i >= n) {
			return -1;
		}
		uint8_t flags = src[i++];
		for (int item = 0; item < 8 && out->len - base < want; item++) {
			if (!(flags >> item & 1)) {
				if (i >= n) {
					return -1;
				}
				buf_putc(out, (char)src[i++]);
				continue;
			}
			if (i + 2 > n) {
				return -1;
			}
			size_t d = ((size_t)src[i] << 4 | src[i + 1] >> 4) + 1;
			size_t l = (size_t)(src[i + 1] & 15) + MIN_MATCH;
			i += 2;
			if (d > out->len - base || out->len - base + l > want) {
				return -1;
			}
			for (size_t k = 0; k < l; k++) { // byte by byte: overlapping copies repeat
				buf_putc(out, out->p[out->len - d]);
			}
		}
	}
	return i == n ? 0 : -1;
}
