// lz: compression-like byte work, the byte-shuffling workload of the fuel
// benchmark. Generates pseudo-text, compresses it with an LZ77 compressor
// (deflate-style hash chains over a 32 KiB window, lazy matching), decompresses
// it, checks the round trip and prints sizes and CRC-32s. Usage: lz [MiB]
// (default 8).
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WBITS = 15, WSIZE = 1 << WBITS, WMASK = WSIZE - 1, HBITS = 15, HSIZE = 1 << HBITS,
       MINM = 4, MAXM = 258, CHAIN = 64 };

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static uint32_t rng = 0x9e3779b9u;
static uint32_t next(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

// Text from a small vocabulary with a skewed distribution, some numbers and
// occasional random bytes: compresses about 3:1, like logs or markup.
static void gen(uint8_t *p, size_t n) {
    static const char *words[] = {"the", "wasm", "module", "fuel", "deadline", "sandbox", "of", "and",
        "policy", "memory", "a", "instance", "guest", "host", "request", "to", "in", "compile", "run",
        "trap", "stack", "import", "export", "function", "global", "table", "is", "for", "with", "limit"};
    size_t i = 0;
    while (i < n) {
        uint32_t r = next();
        const char *w;
        char num[16];
        if ((r & 63) == 0) {
            snprintf(num, sizeof num, "%u", next() % 100000);
            w = num;
        } else {
            uint32_t k = (r >> 8) % 30;
            w = words[(k * k) / 30];
        }
        while (*w && i < n) p[i++] = (uint8_t)*w++;
        if (i < n) p[i++] = (r >> 20) % 11 == 0 ? '\n' : ((r >> 24) % 41 == 0 ? (uint8_t)next() : ' ');
    }
}

static inline uint32_t hash4(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return (v * 2654435761u) >> (32 - HBITS);
}

static int32_t head[HSIZE];
static int32_t prev[WSIZE];

// Longest match for position i among earlier positions with the same hash.
static int find(const uint8_t *in, size_t n, size_t i, int *dist) {
    int best = 0;
    size_t lim = n - i < MAXM ? n - i : MAXM;
    int32_t j = head[hash4(in + i)];
    for (int chain = CHAIN; j >= 0 && i - (size_t)j <= WSIZE - 1 && chain > 0; chain--) {
        if (in[j + best] == in[i + best]) {
            size_t l = 0;
            while (l < lim && in[j + l] == in[i + l]) l++;
            if ((int)l > best) {
                best = (int)l;
                *dist = (int)(i - (size_t)j);
                if (l == lim) break;
            }
        }
        j = prev[j & WMASK];
    }
    return best;
}

static void insert(const uint8_t *in, size_t i) {
    uint32_t h = hash4(in + i);
    prev[i & WMASK] = head[h];
    head[h] = (int32_t)i;
}

// Token format: 0LLLLLLL + L+1 literals; 1LLLLLLL DDDDDDDD DDDDDDDD (length L+MINM, distance D).
static size_t compress(const uint8_t *in, size_t n, uint8_t *out) {
    size_t o = 0, lit = 0, i = 0;
    memset(head, 0xff, sizeof head);
#define FLUSH()                                             \
    while (lit) {                                           \
        size_t k = lit > 128 ? 128 : lit;                   \
        out[o++] = (uint8_t)(k - 1);                        \
        memcpy(out + o, in + i - lit, k);                   \
        o += k; lit -= k;                                   \
    }
    while (i + MINM <= n) {
        int d = 0, l = find(in, n, i, &d);
        insert(in, i);
        if (l >= MINM && i + 1 + MINM <= n) { // lazy: a longer match one byte later wins
            int d2 = 0, l2 = find(in, n, i + 1, &d2);
            if (l2 > l) { lit++; i++; insert(in, i); l = l2; d = d2; }
        }
        if (l >= MINM) {
            if (l > MINM + 127) l = MINM + 127;
            FLUSH();
            out[o++] = (uint8_t)(0x80 | (l - MINM));
            out[o++] = (uint8_t)(d >> 8);
            out[o++] = (uint8_t)d;
            size_t end = i + (size_t)l;
            for (i++; i < end; i++)
                if (i + MINM <= n) insert(in, i);
        } else {
            i++; lit++;
        }
    }
    lit += n - i; i = n;
    FLUSH();
    return o;
}

static size_t decompress(const uint8_t *in, size_t n, uint8_t *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint8_t t = in[i++];
        if (t & 0x80) {
            size_t l = (t & 0x7f) + MINM, d = (size_t)in[i] << 8 | in[i + 1];
            i += 2;
            for (size_t k = 0; k < l; k++, o++) out[o] = out[o - d];
        } else {
            memcpy(out + o, in + i, t + 1u);
            o += t + 1u; i += t + 1u;
        }
    }
    return o;
}

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 8;
    size_t n = (size_t)mib << 20;
    uint8_t *in = malloc(n), *z = malloc(n + n / 64 + 16), *back = malloc(n);
    if (!in || !z || !back) { fprintf(stderr, "out of memory\n"); return 1; }
    crc_init();
    gen(in, n);
    size_t zn = compress(in, n, z);
    size_t bn = decompress(z, zn, back);
    if (bn != n || memcmp(in, back, n) != 0) { fprintf(stderr, "lz round trip failed\n"); return 1; }
    printf("lz %zu -> %zu crc_in=%08x crc_z=%08x\n", n, zn, crc32(in, n), crc32(z, zn));
    return 0;
}
