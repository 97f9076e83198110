// cmpd: the C module of the scan benchmark. A small data toolkit written for
// this repository: a JSON parser with a pretty printer and JSON Pointer
// lookup, SHA-256 / CRC-32 / FNV-1a hashing, an LZSS compressor, and a tiny
// bytecode interpreter for an expression language. It exists to give the
// scanner a realistic clang -O2 -g module (code, data, DWARF sections); it is
// also a working command-line tool (see main.c).
#ifndef CMPD_H
#define CMPD_H

#include <stddef.h>
#include <stdint.h>

// ---- growable byte buffer ----
typedef struct {
	char *p;
	size_t len, cap;
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_put(buf_t *b, const void *p, size_t n);
void buf_putc(buf_t *b, char c);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...);
// read_all reads a whole stream; 0 on success.
int read_all(void *fp, buf_t *b);

// ---- JSON ----
typedef enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ } jkind_t;

typedef struct jval jval_t;
struct jval {
	jkind_t kind;
	double num;
	char *str;       // J_STR: UTF-8, NUL-terminated; len in n
	size_t n;        // J_STR length, J_ARR/J_OBJ element count
	jval_t **items;  // J_ARR/J_OBJ values
	char **keys;     // J_OBJ keys
};

typedef struct {
	char msg[96];
	int line, col;
} jerr_t;

jval_t *json_parse(const char *s, size_t n, jerr_t *err);
void json_free(jval_t *v);
// json_write appends v; indent < 0 writes compactly, sort_keys orders object keys.
void json_write(buf_t *out, const jval_t *v, int indent, int sort_keys);
// json_pointer resolves an RFC 6901 pointer ("" is the root); NULL if absent.
const jval_t *json_pointer(const jval_t *root, const char *ptr);
// json_stats counts values by kind and the maximum depth.
void json_stats(const jval_t *v, size_t counts[7], int depth, int *maxdepth);

// ---- hashes ----
typedef struct {
	uint32_t h[8];
	uint64_t len;
	uint8_t blk[64];
	size_t fill;
} sha256_t;

void sha256_init(sha256_t *c);
void sha256_update(sha256_t *c, const void *p, size_t n);
void sha256_final(sha256_t *c, uint8_t out[32]);
uint32_t crc32(uint32_t crc, const void *p, size_t n);
uint64_t fnv1a64(const void *p, size_t n);
void hex(char *dst, const uint8_t *src, size_t n);

// ---- LZSS ----
// lz_compress appends the compressed form of src to out.
void lz_compress(buf_t *out, const uint8_t *src, size_t n);
// lz_decompress appends the expansion to out; -1 on malformed input.
int lz_decompress(buf_t *out, const uint8_t *src, size_t n, size_t limit);

// ---- expression language ----
// vm_run compiles and runs a program, appending its printed output to out.
// On error it returns -1 and writes a one-line message to err.
int vm_run(const char *src, buf_t *out, char *err, size_t errlen);

#endif
