// SHA-256 (FIPS 180-4), CRC-32 (IEEE, reflected) and FNV-1a 64.
#include <string.h>

#include "cmpd.h"

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha256_block(sha256_t *c, const uint8_t *p) {
	uint32_t w[64];
	for (int t = 0; t < 16; t++) {
		w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
	}
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	uint32_t a = c->h[0], b = c->h[1], cc = c->h[2], d = c->h[3];
	uint32_t e = c->h[4], f = c->h[5], g = c->h[6], h = c->h[7];
	for (int t = 0; t < 64; t++) {
		uint32_t S1 = ror(e, 6) ^ ror(e, 11) ^ ror(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = h + S1 + ch + K[t] + w[t];
		uint32_t S0 = ror(a, 2) ^ ror(a, 13) ^ ror(a, 22);
		uint32_t maj = (a & b) ^ (a & cc) ^ (b & cc);
		uint32_t t2 = S0 + maj;
		h = g;
		g = f;
		f = e;
		e = d + t1;
		d = cc;
		cc = b;
		b = a;
		a = t1 + t2;
	}
	c->h[0] += a;
	c->h[1] += b;
	c->h[2] += cc;
	c->h[3] += d;
	c->h[4] += e;
	c->h[5] += f;
	c->h[6] += g;
	c->h[7] += h;
}

void sha256_init(sha256_t *c) {
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(c->h, iv, sizeof iv);
	c->len = 0;
	c->fill = 0;
}

void sha256_update(sha256_t *c, const void *data, size_t n) {
	const uint8_t *p = data;
	c->len += n;
	if (c->fill) {
		size_t take = 64 - c->fill < n ? 64 - c->fill : n;
		memcpy(c->blk + c->fill, p, take);
		c->fill += take;
		p += take;
		n -= take;
		if (c->fill < 64) {
			return;
		}
		sha256_block(c, c->blk);
		c->fill = 0;
	}
	while (n >= 64) {
		sha256_block(c, p);
		p += 64;
		n -= 64;
	}
	memcpy(c->blk, p, n);
	c->fill = n;
}

void sha256_final(sha256_t *c, uint8_t out[32]) {
	uint64_t bits = c->len * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (c->fill < 56 ? 56 : 120) - c->fill;
	for (int k = 0; k < 8; k++) {
		pad[padlen + k] = (uint8_t)(bits >> (56 - 8 * k));
	}
	sha256_update(c, pad, padlen + 8);
	for (int k = 0; k < 8; k++) {
		out[4 * k] = (uint8_t)(c->h[k] >> 24);
		out[4 * k + 1] = (uint8_t)(c->h[k] >> 16);
		out[4 * k + 2] = (uint8_t)(c->h[k] >> 8);
		out[4 * k + 3] = (uint8_t)c->h[k];
	}
}

uint32_t crc32(uint32_t crc, const void *data, size_t n) {
	static uint32_t table[256];
	static int ready;
	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++) {
				c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			}
			table[i] = c;
		}
		ready = 1;
	}
	const uint8_t *p = data;
	crc = ~crc;
	while (n--) {
		crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	}
	return ~crc;
}

uint64_t fnv1a64(const void *data, size_t n) {
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ull;
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ull;
	}
	return h;
}

void hex(char *dst, const uint8_t *src, size_t n) {
	static const char digits[] = "0123456789abcdef";
	for (size_t k = 0; k < n; k++) {
		dst[2 * k] = digits[src[k] >> 4];
		dst[2 * k + 1] = digits[src[k] & 15];
	}
	dst[2 * n] = 0;
}
