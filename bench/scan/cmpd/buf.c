// Growable byte buffers and whole-stream reading.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmpd.h"

void buf_init(buf_t *b) {
	b->p = NULL;
	b->len = b->cap = 0;
}

void buf_free(buf_t *b) {
	free(b->p);
	buf_init(b);
}

static void buf_grow(buf_t *b, size_t extra) {
	if (b->len + extra + 1 <= b->cap) {
		return;
	}
	size_t c = b->cap ? b->cap : 64;
	while (c < b->len + extra + 1) {
		c *= 2;
	}
	char *p = realloc(b->p, c);
	if (!p) {
		fputs("cmpd: out of memory\n", stderr);
		exit(70);
	}
	b->p = p;
	b->cap = c;
}

void buf_put(buf_t *b, const void *p, size_t n) {
	buf_grow(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = 0;
}

void buf_putc(buf_t *b, char c) { buf_put(b, &c, 1); }

void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

void buf_printf(buf_t *b, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	char probe[1];
	int n = vsnprintf(probe, sizeof probe, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return;
	}
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

int read_all(void *fp, buf_t *b) {
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, (FILE *)fp)) > 0) {
		buf_put(b, tmp, n);
	}
	if (!b->p) {
		buf_grow(b, 0);
		b->p[0] = 0;
	}
	return ferror((FILE *)fp) ? -1 : 0;
}
