// cmpd: a small data toolkit (see cmpd.h).
//
//   cmpd json [--indent N] [--compact] [--sort] [--get POINTER] < in.json
//   cmpd stats < in.json
//   cmpd hash < file           sha256, crc32 and fnv1a64 of stdin
//   cmpd lz c|d < file         LZSS compress / decompress
//   cmpd eval < prog           run a program in the expression language
//   cmpd selftest              run the built-in checks (exit 1 on failure)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmpd.h"

static int usage(void) {
	fputs("usage: cmpd json [--indent N] [--compact] [--sort] [--get POINTER]\n"
	      "       cmpd stats | hash | lz c|d | eval | selftest   (input on stdin)\n",
	      stderr);
	return 2;
}

static int cmd_json(int argc, char **argv, const buf_t *in) {
	int indent = 2, sort = 0;
	const char *ptr = NULL;
	for (int k = 0; k < argc; k++) {
		if (strcmp(argv[k], "--indent") == 0 && k + 1 < argc) {
			indent = atoi(argv[++k]);
			if (indent < 0 || indent > 16) {
				fputs("cmpd: --indent must be 0..16\n", stderr);
				return 2;
			}
		} else if (strcmp(argv[k], "--compact") == 0) {
			indent = -1;
		} else if (strcmp(argv[k], "--sort") == 0) {
			sort = 1;
		} else if (strcmp(argv[k], "--get") == 0 && k + 1 < argc) {
			ptr = argv[++k];
		} else {
			return usage();
		}
	}
	jerr_t err;
	jval_t *v = json_parse(in->p, in->len, &err);
	if (!v) {
		fprintf(stderr, "cmpd: stdin:%d:%d: %s\n", err.line, err.col, err.msg);
		return 1;
	}
	const jval_t *sel = v;
	if (ptr && !(sel = json_pointer(v, ptr))) {
		fprintf(stderr, "cmpd: %s: no such value\n", ptr);
		json_free(v);
		return 1;
	}
	buf_t out;
	buf_init(&out);
	json_write(&out, sel, indent, sort);
	buf_putc(&out, '\n');
	fwrite(out.p, 1, out.len, stdout);
	buf_free(&out);
	json_free(v);
	return 0;
}

static int cmd_stats(const buf_t *in) {
	static const char *const names[7] = {"null", "false", "true", "number", "string", "array", "object"};
	jerr_t err;
	jval_t *v = json_parse(in->p, in->len, &err);
	if (!v) {
		fprintf(stderr, "cmpd: stdin:%d:%d: %s\n", err.line, err.col, err.msg);
		return 1;
	}
	size_t counts[7] = {0};
	int depth = 0;
	json_stats(v, counts, 1, &depth);
	for (int k = 0; k < 7; k++) {
		printf("%-7s %zu\n", names[k], counts[k]);
	}
	printf("depth   %d\n", depth);
	json_free(v);
	return 0;
}

static void hash_line(const void *p, size_t n, char *line, size_t linelen) {
	sha256_t c;
	uint8_t d[32];
	char h[65];
	sha256_init(&c);
	sha256_update(&c, p, n);
	sha256_final(&c, d);
	hex(h, d, 32);
	snprintf(line, linelen, "sha256 %s\ncrc32 %08x\nfnv1a64 %016llx\n", h, crc32(0, p, n),
	         (unsigned long long)fnv1a64(p, n));
}

static int cmd_lz(const char *mode, const buf_t *in) {
	buf_t out;
	buf_init(&out);
	if (strcmp(mode, "c") == 0) {
		lz_compress(&out, (const uint8_t *)in->p, in->len);
	} else if (strcmp(mode, "d") == 0) {
		if (lz_decompress(&out, (const uint8_t *)in->p, in->len, 1u << 30)) {
			fputs("cmpd: malformed compressed input\n", stderr);
			buf_free(&out);
			return 1;
		}
	} else {
		return usage();
	}
	fwrite(out.p, 1, out.len, stdout);
	buf_free(&out);
	return 0;
}

static int cmd_eval(const buf_t *in) {
	buf_t out;
	char err[160];
	buf_init(&out);
	int rc = vm_run(in->p, &out, err, sizeof err);
	if (out.len) {
		fwrite(out.p, 1, out.len, stdout);
	}
	buf_free(&out);
	if (rc) {
		fprintf(stderr, "cmpd: eval: %s\n", err);
		return 1;
	}
	return 0;
}

// ---- self test ----

static int failures;

static void check(int ok, const char *what) {
	if (!ok) {
		fprintf(stderr, "FAIL %s\n", what);
		failures++;
	}
}

static void check_str(const char *got, const char *want, const char *what) {
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "FAIL %s:\n got  %s\n want %s\n", what, got, want);
		failures++;
	}
}

static void test_json(void) {
	static const struct {
		const char *in, *compact;
	} good[] = {
		{"null", "null"},
		{" [1, 2.5, -0.125, 1e3, 12345678901234567890] ", "[1,2.5,-0.125,1000,1.2345678901234567e+19]"},
		{"{\"b\": {\"x\": [true, false]}, \"a\": \"\\u00e9\\ud83d\\ude00\\n\"}",
		 "{\"b\":{\"x\":[true,false]},\"a\":\"\xc3\xa9\xf0\x9f\x98\x80\\n\"}"},
		{"[[], {}, [[[]]]]", "[[],{},[[[]]]]"},
		{"\"\\u0001\\/\"", "\"\\u0001/\""},
	};
	for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
		jerr_t err;
		jval_t *v = json_parse(good[k].in, strlen(good[k].in), &err);
		check(v != NULL, good[k].in);
		if (!v) {
			continue;
		}
		buf_t out;
		buf_init(&out);
		json_write(&out, v, -1, 0);
		check_str(out.p, good[k].compact, "json compact");
		// round trip through the pretty printer
		buf_t pretty;
		buf_init(&pretty);
		json_write(&pretty, v, 4, 0);
		jval_t *w = json_parse(pretty.p, pretty.len, &err);
		check(w != NULL, "json pretty reparses");
		if (w) {
			buf_t again;
			buf_init(&again);
			json_write(&again, w, -1, 0);
			check_str(again.p, good[k].compact, "json pretty round trip");
			buf_free(&again);
			json_free(w);
		}
		buf_free(&pretty);
		buf_free(&out);
		json_free(v);
	}
	static const struct {
		const char *in, *msg;
		int line, col;
	} bad[] = {
		{"", "value expected", 1, 1},
		{"[1,]", "value expected", 1, 4},
		{"{\"a\" 1}", "':' expected", 1, 6},
		{"[01]", "',' or ']' expected", 1, 3},
		{"\"\\ud800\"", "lone high surrogate", 1, 8},
		{"\"abc", "unterminated string", 1, 5},
		{"[1]\n x", "trailing data after value", 2, 2},
		{"\"\xc0\xaf\"", "invalid UTF-8 in string", 1, 2},
		{"tru", "invalid literal", 1, 1},
		{"1.", "digit expected after '.'", 1, 3},
	};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
		jerr_t err;
		jval_t *v = json_parse(bad[k].in, strlen(bad[k].in), &err);
		check(v == NULL, bad[k].in);
		json_free(v);
		check_str(err.msg, bad[k].msg, bad[k].in);
		check(err.line == bad[k].line && err.col == bad[k].col, bad[k].msg);
	}
	// nesting bound
	buf_t deep;
	buf_init(&deep);
	for (int k = 0; k < 600; k++) {
		buf_putc(&deep, '[');
	}
	jerr_t err;
	check(json_parse(deep.p, deep.len, &err) == NULL, "deep nesting refused");
	check_str(err.msg, "nesting too deep", "deep nesting message");
	buf_free(&deep);

	const char *doc = "{\"a/b\": [10, {\"m~n\": \"x\"}], \"k\": 1, \"k\": 2}";
	jval_t *v = json_parse(doc, strlen(doc), &err);
	check(v != NULL, "pointer doc");
	if (v) {
		const jval_t *p = json_pointer(v, "/a~1b/1/m~0n");
		check(p && p->kind == J_STR && strcmp(p->str, "x") == 0, "pointer escapes");
		p = json_pointer(v, "/k");
		check(p && p->num == 2, "pointer last duplicate");
		check(json_pointer(v, "/a~1b/01") == NULL, "pointer leading zero");
		check(json_pointer(v, "/a~1b/2") == NULL, "pointer out of range");
		check(json_pointer(v, "/a~2") == NULL, "pointer bad escape");
		buf_t out;
		buf_init(&out);
		json_write(&out, v, -1, 1);
		check_str(out.p, "{\"a/b\":[10,{\"m~n\":\"x\"}],\"k\":1,\"k\":2}", "sorted keys stable");
		buf_free(&out);
		json_free(v);
	}
}

static void test_hash(void) {
	static const struct {
		const char *in, *sha, *crc, *fnv;
	} vec[] = {
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "00000000", "cbf29ce484222325"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "352441c2", "e71fa2190541574b"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "171a3f5f", "0xunused"},
	};
	for (size_t k = 0; k < sizeof vec / sizeof vec[0]; k++) {
		char line[200], want[200];
		hash_line(vec[k].in, strlen(vec[k].in), line, sizeof line);
		char crcs[9];
		snprintf(crcs, sizeof crcs, "%08x", crc32(0, vec[k].in, strlen(vec[k].in)));
		check_str(crcs, vec[k].crc, "crc32");
		if (vec[k].fnv[1] != 'x') {
			snprintf(want, sizeof want, "sha256 %s\ncrc32 %s\nfnv1a64 %s\n", vec[k].sha, vec[k].crc, vec[k].fnv);
			check_str(line, want, "hash line");
		} else {
			check(strncmp(line + 7, vec[k].sha, 64) == 0, "sha256 two blocks");
		}
	}
	// a million 'a', fed in uneven pieces
	sha256_t c;
	uint8_t d[32];
	char h[65];
	char chunk[997];
	memset(chunk, 'a', sizeof chunk);
	sha256_init(&c);
	size_t left = 1000000;
	while (left) {
		size_t n = left < sizeof chunk ? left : sizeof chunk;
		sha256_update(&c, chunk, n);
		left -= n;
	}
	sha256_final(&c, d);
	hex(h, d, 32);
	check_str(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "sha256 million a");
}

static void test_lz(void) {
	buf_t src, z, back;
	buf_init(&src);
	for (int k = 0; k < 2000; k++) {
		buf_printf(&src, "line %d: the quick brown fox %d jumps\n", k, k % 7);
	}
	for (int k = 0; k < 3000; k++) { // incompressible tail
		buf_putc(&src, (char)(fnv1a64(&k, sizeof k) >> 13));
	}
	buf_init(&z);
	buf_init(&back);
	lz_compress(&z, (const uint8_t *)src.p, src.len);
	check(z.len < src.len / 2, "lz compresses text");
	check(lz_decompress(&back, (const uint8_t *)z.p, z.len, src.len) == 0, "lz decompresses");
	check(back.len == src.len && memcmp(back.p, src.p, src.len) == 0, "lz round trip");
	buf_free(&back);
	buf_init(&back);
	check(lz_decompress(&back, (const uint8_t *)z.p, z.len - 1, src.len) != 0, "lz truncated refused");
	buf_free(&back);
	buf_init(&back);
	check(lz_decompress(&back, (const uint8_t *)z.p, z.len, src.len - 1) != 0, "lz limit enforced");
	buf_free(&back);
	buf_init(&back);
	const uint8_t far[] = {4, 0, 0, 0, 1, 0x00, 0x50};
	check(lz_decompress(&back, far, sizeof far, 100) != 0, "lz distance before start refused");
	buf_free(&back);
	buf_free(&z);
	buf_free(&src);
}

static void test_vm(void) {
	static const struct {
		const char *prog, *out, *err;
	} cases[] = {
		{"print 1 + 2 * 3, (1 + 2) * 3, 7 % 4, -2 - -3;", "7 9 3 1\n", ""},
		{"fn fib(n) { if (n < 2) { return n; } return fib(n - 1) + fib(n - 2); }\n"
		 "let i = 0; let s = 0;\nwhile (i < 15) { s = s + fib(i); i = i + 1; }\nprint s;",
		 "986\n", ""},
		{"print sq(9); fn sq(x) { return x * x; }", "81\n", ""},
		{"fn boom() { print 99; return 1; }\nprint 0 && boom(), 1 || boom(), !0, 1 == 1 && 2 != 3, 0 || 0;",
		 "0 1 1 1 0\n", ""},
		{"fn f(x) { let y = x * 2; if (y > 10) { return 1; } else if (y > 4) { return 2; } else { return 3; } }\n"
		 "print f(6), f(3), f(1);",
		 "1 2 3\n", ""},
		{"print 1 / 4, 2.5e3;", "0.25 2500\n", ""},
		{"print y;", "", "line 1: undefined variable 'y'"},
		{"fn f(a) { return a; } print f(1, 2);", "", "line 1: 'f' takes 1 arguments, got 2"},
		{"fn r(n) { return r(n + 1); } print r(0);", "", "line 1: call depth exceeded"},
		{"let i = 0; while (1) { i = i + 1; }", "", "line 1: step budget exhausted"},
		{"print g();", "", "line 1: call of undefined function 'g'"},
		{"let x = 1;\nx = ;", "", "line 2: expression expected, found ';'"},
		{"return 1;", "", "line 1: return outside a function"},
		{"print 1 $ 2;", "", "line 1: unexpected character '$'"},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		buf_t out;
		char err[160];
		buf_init(&out);
		int rc = vm_run(cases[k].prog, &out, err, sizeof err);
		check((rc == 0) == (cases[k].err[0] == 0), cases[k].prog);
		check_str(out.p ? out.p : "", cases[k].out, cases[k].prog);
		check_str(rc ? err : "", cases[k].err, cases[k].prog);
		buf_free(&out);
	}
}

static int cmd_selftest(void) {
	test_json();
	test_hash();
	test_lz();
	test_vm();
	if (failures) {
		fprintf(stderr, "%d failures\n", failures);
		return 1;
	}
	puts("ok");
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		return usage();
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "selftest") == 0) {
		return cmd_selftest();
	}
	buf_t in;
	buf_init(&in);
	if (read_all(stdin, &in)) {
		perror("cmpd: read stdin");
		return 1;
	}
	int rc;
	if (strcmp(cmd, "json") == 0) {
		rc = cmd_json(argc - 2, argv + 2, &in);
	} else if (strcmp(cmd, "stats") == 0) {
		rc = cmd_stats(&in);
	} else if (strcmp(cmd, "hash") == 0) {
		char line[200];
		hash_line(in.p, in.len, line, sizeof line);
		fputs(line, stdout);
		rc = 0;
	} else if (strcmp(cmd, "lz") == 0 && argc == 3) {
		rc = cmd_lz(argv[2], &in);
	} else if (strcmp(cmd, "eval") == 0) {
		rc = cmd_eval(&in);
	} else {
		rc = usage();
	}
	buf_free(&in);
	return rc;
}
