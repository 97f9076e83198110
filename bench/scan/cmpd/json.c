// A strict JSON (RFC 8259) parser, writer and RFC 6901 pointer lookup.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmpd.h"

#define MAX_DEPTH 512

typedef struct {
	const char *s;
	size_t n, i;
	int depth;
	jerr_t *err;
} parser_t;

static void *xcalloc(size_t n, size_t sz) {
	void *p = calloc(n ? n : 1, sz);
	if (!p) {
		fputs("cmpd: out of memory\n", stderr);
		exit(70);
	}
	return p;
}

static void *xrealloc(void *p, size_t sz) {
	p = realloc(p, sz ? sz : 1);
	if (!p) {
		fputs("cmpd: out of memory\n", stderr);
		exit(70);
	}
	return p;
}

static int fail(parser_t *p, const char *msg) {
	if (p->err && !p->err->msg[0]) {
		int line = 1, col = 1;
		for (size_t k = 0; k < p->i && k < p->n; k++) {
			if (p->s[k] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		snprintf(p->err->msg, sizeof p->err->msg, "%s", msg);
		p->err->line = line;
		p->err->col = col;
	}
	return -1;
}

static void skip_ws(parser_t *p) {
	while (p->i < p->n) {
		char c = p->s[p->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			break;
		}
		p->i++;
	}
}

static int literal(parser_t *p, const char *word) {
	size_t l = strlen(word);
	if (p->n - p->i < l || memcmp(p->s + p->i, word, l) != 0) {
		return fail(p, "invalid literal");
	}
	p->i += l;
	return 0;
}

static int hex4(parser_t *p, unsigned *out) {
	if (p->n - p->i < 4) {
		return fail(p, "short \\u escape");
	}
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		char c = p->s[p->i++];
		v <<= 4;
		if (c >= '0' && c <= '9') {
			v |= (unsigned)(c - '0');
		} else if (c >= 'a' && c <= 'f') {
			v |= (unsigned)(c - 'a' + 10);
		} else if (c >= 'A' && c <= 'F') {
			v |= (unsigned)(c - 'A' + 10);
		} else {
			return fail(p, "bad hex digit in \\u escape");
		}
	}
	*out = v;
	return 0;
}

static void put_utf8(buf_t *b, unsigned cp) {
	char t[4];
	if (cp < 0x80) {
		t[0] = (char)cp;
		buf_put(b, t, 1);
	} else if (cp < 0x800) {
		t[0] = (char)(0xC0 | (cp >> 6));
		t[1] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, t, 2);
	} else if (cp < 0x10000) {
		t[0] = (char)(0xE0 | (cp >> 12));
		t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[2] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, t, 3);
	} else {
		t[0] = (char)(0xF0 | (cp >> 18));
		t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		t[3] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, t, 4);
	}
}

// utf8_len returns the length of the valid UTF-8 sequence at s, or 0.
static size_t utf8_len(const unsigned char *s, size_t n) {
	unsigned char c = s[0];
	size_t l;
	unsigned cp;
	if (c < 0x80) {
		return 1;
	} else if ((c & 0xE0) == 0xC0) {
		l = 2;
		cp = c & 0x1F;
	} else if ((c & 0xF0) == 0xE0) {
		l = 3;
		cp = c & 0x0F;
	} else if ((c & 0xF8) == 0xF0) {
		l = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < l) {
		return 0;
	}
	for (size_t k = 1; k < l; k++) {
		if ((s[k] & 0xC0) != 0x80) {
			return 0;
		}
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	static const unsigned minimum[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < minimum[l] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
		return 0;
	}
	return l;
}

static int parse_string(parser_t *p, char **out, size_t *outlen) {
	buf_t b;
	buf_init(&b);
	p->i++; // opening quote
	for (;;) {
		if (p->i >= p->n) {
			buf_free(&b);
			return fail(p, "unterminated string");
		}
		unsigned char c = (unsigned char)p->s[p->i];
		if (c == '"') {
			p->i++;
			break;
		}
		if (c < 0x20) {
			buf_free(&b);
			return fail(p, "control character in string");
		}
		if (c != '\\') {
			size_t l = utf8_len((const unsigned char *)p->s + p->i, p->n - p->i);
			if (!l) {
				buf_free(&b);
				return fail(p, "invalid UTF-8 in string");
			}
			buf_put(&b, p->s + p->i, l);
			p->i += l;
			continue;
		}
		p->i++;
		if (p->i >= p->n) {
			buf_free(&b);
			return fail(p, "unterminated escape");
		}
		char e = p->s[p->i++];
		unsigned cp, lo;
		switch (e) {
		case '"': buf_putc(&b, '"'); break;
		case '\\': buf_putc(&b, '\\'); break;
		case '/': buf_putc(&b, '/'); break;
		case 'b': buf_putc(&b, '\b'); break;
		case 'f': buf_putc(&b, '\f'); break;
		case 'n': buf_putc(&b, '\n'); break;
		case 'r': buf_putc(&b, '\r'); break;
		case 't': buf_putc(&b, '\t'); break;
		case 'u':
			if (hex4(p, &cp)) {
				buf_free(&b);
				return -1;
			}
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') {
					buf_free(&b);
					return fail(p, "lone high surrogate");
				}
				p->i += 2;
				if (hex4(p, &lo)) {
					buf_free(&b);
					return -1;
				}
				if (lo < 0xDC00 || lo > 0xDFFF) {
					buf_free(&b);
					return fail(p, "bad low surrogate");
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				buf_free(&b);
				return fail(p, "lone low surrogate");
			}
			put_utf8(&b, cp);
			break;
		default:
			buf_free(&b);
			return fail(p, "unknown escape");
		}
	}
	if (!b.p) {
		buf_putc(&b, 0);
		b.len = 0;
	}
	*out = b.p;
	*outlen = b.len;
	return 0;
}

static int parse_number(parser_t *p, double *out) {
	size_t start = p->i;
	if (p->i < p->n && p->s[p->i] == '-') {
		p->i++;
	}
	if (p->i >= p->n) {
		return fail(p, "truncated number");
	}
	if (p->s[p->i] == '0') {
		p->i++;
	} else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
			p->i++;
		}
	} else {
		return fail(p, "bad number");
	}
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') {
			return fail(p, "digit expected after '.'");
		}
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
			p->i++;
		}
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-')) {
			p->i++;
		}
		if (p->i >= p->n || p->s[p->i] < '0' || p->s[p->i] > '9') {
			return fail(p, "digit expected in exponent");
		}
		while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
			p->i++;
		}
	}
	char tmp[64];
	size_t l = p->i - start;
	if (l >= sizeof tmp) {
		char *big = xcalloc(l + 1, 1);
		memcpy(big, p->s + start, l);
		*out = strtod(big, NULL);
		free(big);
	} else {
		memcpy(tmp, p->s + start, l);
		tmp[l] = 0;
		*out = strtod(tmp, NULL);
	}
	return 0;
}

static jval_t *parse_value(parser_t *p);

static jval_t *parse_container(parser_t *p, int obj) {
	jval_t *v = xcalloc(1, sizeof *v);
	v->kind = obj ? J_OBJ : J_ARR;
	size_t cap = 0;
	char close = obj ? '}' : ']';
	if (++p->depth > MAX_DEPTH) {
		fail(p, "nesting too deep");
		goto bad;
	}
	p->i++;
	skip_ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		p->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		size_t keylen;
		skip_ws(p);
		if (obj) {
			if (p->i >= p->n || p->s[p->i] != '"') {
				fail(p, "object key expected");
				goto bad;
			}
			if (parse_string(p, &key, &keylen)) {
				goto bad;
			}
			skip_ws(p);
			if (p->i >= p->n || p->s[p->i] != ':') {
				free(key);
				fail(p, "':' expected");
				goto bad;
			}
			p->i++;
		}
		jval_t *item = parse_value(p);
		if (!item) {
			free(key);
			goto bad;
		}
		if (v->n == cap) {
			cap = cap ? cap * 2 : 4;
			v->items = xrealloc(v->items, cap * sizeof *v->items);
			if (obj) {
				v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
			}
		}
		v->items[v->n] = item;
		if (obj) {
			v->keys[v->n] = key;
		}
		v->n++;
		skip_ws(p);
		if (p->i < p->n && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->n && p->s[p->i] == close) {
			p->i++;
			break;
		}
		fail(p, obj ? "',' or '}' expected" : "',' or ']' expected");
		goto bad;
	}
	p->depth--;
	return v;
bad:
	json_free(v);
	return NULL;
}

static jval_t *parse_value(parser_t *p) {
	skip_ws(p);
	if (p->i >= p->n) {
		fail(p, "value expected");
		return NULL;
	}
	jval_t *v;
	switch (p->s[p->i]) {
	case '{':
		return parse_container(p, 1);
	case '[':
		return parse_container(p, 0);
	case '"':
		v = xcalloc(1, sizeof *v);
		v->kind = J_STR;
		if (parse_string(p, &v->str, &v->n)) {
			free(v);
			return NULL;
		}
		return v;
	case 't':
	case 'f':
	case 'n': {
		const char *w = p->s[p->i] == 't' ? "true" : p->s[p->i] == 'f' ? "false" : "null";
		if (literal(p, w)) {
			return NULL;
		}
		v = xcalloc(1, sizeof *v);
		v->kind = w[0] == 't' ? J_TRUE : w[0] == 'f' ? J_FALSE : J_NULL;
		return v;
	}
	default:
		if (p->s[p->i] != '-' && (p->s[p->i] < '0' || p->s[p->i] > '9')) {
			fail(p, "value expected");
			return NULL;
		}
		v = xcalloc(1, sizeof *v);
		v->kind = J_NUM;
		if (parse_number(p, &v->num)) {
			free(v);
			return NULL;
		}
		return v;
	}
}

jval_t *json_parse(const char *s, size_t n, jerr_t *err) {
	parser_t p = {s, n, 0, 0, err};
	if (err) {
		err->msg[0] = 0;
	}
	jval_t *v = parse_value(&p);
	if (!v) {
		return NULL;
	}
	skip_ws(&p);
	if (p.i != p.n) {
		fail(&p, "trailing data after value");
		json_free(v);
		return NULL;
	}
	return v;
}

void json_free(jval_t *v) {
	if (!v) {
		return;
	}
	for (size_t k = 0; k < v->n && v->items; k++) {
		json_free(v->items[k]);
		if (v->keys) {
			free(v->keys[k]);
		}
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

static void write_string(buf_t *out, const char *s, size_t n) {
	static const char digits[] = "0123456789abcdef";
	buf_putc(out, '"');
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		switch (c) {
		case '"': buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\n': buf_puts(out, "\\n"); break;
		case '\r': buf_puts(out, "\\r"); break;
		case '\t': buf_puts(out, "\\t"); break;
		case '\b': buf_puts(out, "\\b"); break;
		case '\f': buf_puts(out, "\\f"); break;
		default:
			if (c < 0x20) {
				char t[6] = {'\\', 'u', '0', '0', digits[c >> 4], digits[c & 15]};
				buf_put(out, t, 6);
			} else {
				buf_putc(out, (char)c);
			}
		}
	}
	buf_putc(out, '"');
}

static void write_number(buf_t *out, double d) {
	if (!isfinite(d)) {
		buf_puts(out, "null");
		return;
	}
	if (d == (double)(long long)d && fabs(d) < 1e15) {
		buf_printf(out, "%lld", (long long)d);
		return;
	}
	// Shortest of %.15g and %.17g that round-trips.
	char t[40];
	snprintf(t, sizeof t, "%.15g", d);
	if (strtod(t, NULL) != d) {
		snprintf(t, sizeof t, "%.17g", d);
	}
	buf_puts(out, t);
}

static void newline(buf_t *out, int indent, int level) {
	if (indent < 0) {
		return;
	}
	buf_putc(out, '\n');
	for (int k = 0; k < indent * level; k++) {
		buf_putc(out, ' ');
	}
}

static const char *const *sort_keys_ctx;

static int cmp_index(const void *a, const void *b) {
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(sort_keys_ctx[x], sort_keys_ctx[y]);
	if (c != 0) {
		return c;
	}
	return x < y ? -1 : x > y;
}

static void write_value(buf_t *out, const jval_t *v, int indent, int sort, int level) {
	switch (v->kind) {
	case J_NULL: buf_puts(out, "null"); return;
	case J_TRUE: buf_puts(out, "true"); return;
	case J_FALSE: buf_puts(out, "false"); return;
	case J_NUM: write_number(out, v->num); return;
	case J_STR: write_string(out, v->str, v->n); return;
	case J_ARR:
	case J_OBJ: break;
	}
	int obj = v->kind == J_OBJ;
	buf_putc(out, obj ? '{' : '[');
	if (v->n == 0) {
		buf_putc(out, obj ? '}' : ']');
		return;
	}
	size_t *order = xcalloc(v->n, sizeof *order);
	for (size_t k = 0; k < v->n; k++) {
		order[k] = k;
	}
	if (obj && sort) {
		sort_keys_ctx = (const char *const *)v->keys;
		qsort(order, v->n, sizeof *order, cmp_index);
	}
	for (size_t k = 0; k < v->n; k++) {
		size_t j = order[k];
		if (k) {
			buf_putc(out, ',');
		}
		newline(out, indent, level + 1);
		if (obj) {
			write_string(out, v->keys[j], strlen(v->keys[j]));
			buf_puts(out, indent < 0 ? ":" : ": ");
		}
		write_value(out, v->items[j], indent, sort, level + 1);
	}
	free(order);
	newline(out, indent, level);
	buf_putc(out, obj ? '}' : ']');
}

void json_write(buf_t *out, const jval_t *v, int indent, int sort_keys) {
	write_value(out, v, indent, sort_keys, 0);
}

const jval_t *json_pointer(const jval_t *root, const char *ptr) {
	const jval_t *v = root;
	if (*ptr == 0) {
		return v;
	}
	if (*ptr != '/') {
		return NULL;
	}
	buf_t tok;
	buf_init(&tok);
	while (*ptr == '/' && v) {
		ptr++;
		tok.len = 0;
		buf_putc(&tok, 0);
		tok.len = 0;
		while (*ptr && *ptr != '/') {
			if (*ptr == '~') {
				if (ptr[1] == '0') {
					buf_putc(&tok, '~');
				} else if (ptr[1] == '1') {
					buf_putc(&tok, '/');
				} else {
					buf_free(&tok);
					return NULL;
				}
				ptr += 2;
				continue;
			}
			buf_putc(&tok, *ptr++);
		}
		const jval_t *next = NULL;
		if (v->kind == J_OBJ) {
			for (size_t k = v->n; k-- > 0;) { // last duplicate wins
				if (strlen(v->keys[k]) == tok.len && memcmp(v->keys[k], tok.p, tok.len) == 0) {
					next = v->items[k];
					break;
				}
			}
		} else if (v->kind == J_ARR && tok.len > 0 && (tok.len == 1 || tok.p[0] != '0')) {
			size_t idx = 0;
			int ok = 1;
			for (size_t k = 0; k < tok.len; k++) {
				if (tok.p[k] < '0' || tok.p[k] > '9' || idx > (SIZE_MAX - 9) / 10) {
					ok = 0;
					break;
				}
				idx = idx * 10 + (size_t)(tok.p[k] - '0');
			}
			if (ok && idx < v->n) {
				next = v->items[idx];
			}
		}
		v = next;
	}
	buf_free(&tok);
	return v;
}

void json_stats(const jval_t *v, size_t counts[7], int depth, int *maxdepth) {
	counts[v->kind]++;
	if (depth > *maxdepth) {
		*maxdepth = depth;
	}
	if (v->kind == J_ARR || v->kind == J_OBJ) {
		for (size_t k = 0; k < v->n; k++) {
			json_stats(v->items[k], counts, depth + 1, maxdepth);
		}
	}
}
