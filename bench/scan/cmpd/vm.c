// A tiny language compiled to stack bytecode and interpreted.
//
//   fn fib(n) { if (n < 2) { return n; } return fib(n - 1) + fib(n - 2); }
//   let i = 0;
//   while (i < 10) { print i, fib(i); i = i + 1; }
//
// Values are doubles. Statements: let, assignment, print, if/else, while,
// fn, return, expression statements. Operators: || && == != < <= > >= + - *
// / % and unary - !. Functions may be called before they are defined.
// Execution is bounded by a step budget and a call depth.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmpd.h"

enum {
	OP_CONST, OP_LOADG, OP_STOREG, OP_LOADL, OP_STOREL, OP_ADD, OP_SUB, OP_MUL,
	OP_DIV, OP_MOD, OP_NEG, OP_NOT, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
	OP_JMP, OP_JZ, OP_DUP, OP_POP, OP_CALL, OP_RET, OP_PRINT, OP_HALT,
};

enum { T_EOF, T_NUM, T_IDENT, T_OP, T_KW };

#define MAX_NAMES 256
#define MAX_STACK 4096
#define MAX_FRAMES 256
#define MAX_STEPS 50000000L

typedef struct {
	char name[32];
	int defined;
	int arity;
	int entry;
	int nlocals;
} func_t;

typedef struct {
	const char *src;
	size_t pos;
	int line;
	int tok;
	char text[64];
	double num;

	int32_t *code;
	size_t ncode, capcode;
	double consts[1024];
	int nconsts;
	char globals[MAX_NAMES][32];
	int nglobals;
	func_t funcs[MAX_NAMES];
	int nfuncs;
	// locals of the function being compiled (NULL at top level)
	func_t *cur;
	char locals[MAX_NAMES][32];
	int nlocals;
	// pending calls to fix up: code index of the function operand
	int fixups[4096];
	int nfixups;

	char *err;
	size_t errlen;
	int failed;
} comp_t;

static void cerror(comp_t *c, const char *fmt, ...) {
	if (c->failed) {
		return;
	}
	c->failed = 1;
	int n = snprintf(c->err, c->errlen, "line %d: ", c->line);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errlen) {
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	}
	va_end(ap);
}

static const char *const keywords[] = {"let", "print", "if", "else", "while", "fn", "return", NULL};

static void next(comp_t *c) {
	const char *s = c->src;
	for (;;) {
		while (s[c->pos] == ' ' || s[c->pos] == '\t' || s[c->pos] == '\r' || s[c->pos] == '\n') {
			if (s[c->pos] == '\n') {
				c->line++;
			}
			c->pos++;
		}
		if (s[c->pos] == '#') {
			while (s[c->pos] && s[c->pos] != '\n') {
				c->pos++;
			}
			continue;
		}
		break;
	}
	char ch = s[c->pos];
	c->text[0] = 0;
	if (!ch) {
		c->tok = T_EOF;
		return;
	}
	if ((ch >= '0' && ch <= '9') || (ch == '.' && s[c->pos + 1] >= '0' && s[c->pos + 1] <= '9')) {
		char *end;
		c->num = strtod(s + c->pos, &end);
		c->pos = (size_t)(end - s);
		c->tok = T_NUM;
		return;
	}
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_') {
		size_t n = 0;
		while (((s[c->pos] >= 'a' && s[c->pos] <= 'z') || (s[c->pos] >= 'A' && s[c->pos] <= 'Z') ||
		        (s[c->pos] >= '0' && s[c->pos] <= '9') || s[c->pos] == '_')) {
			if (n < sizeof c->text - 1) {
				c->text[n++] = s[c->pos];
			}
			c->pos++;
		}
		c->text[n] = 0;
		c->tok = T_IDENT;
		for (int k = 0; keywords[k]; k++) {
			if (strcmp(c->text, keywords[k]) == 0) {
				c->tok = T_KW;
			}
		}
		return;
	}
	static const char *const two[] = {"==", "!=", "<=", ">=", "&&", "||", NULL};
	for (int k = 0; two[k]; k++) {
		if (ch == two[k][0] && s[c->pos + 1] == two[k][1]) {
			memcpy(c->text, two[k], 3);
			c->pos += 2;
			c->tok = T_OP;
			return;
		}
	}
	if (strchr("+-*/%<>!=(){},;", ch)) {
		c->text[0] = ch;
		c->text[1] = 0;
		c->pos++;
		c->tok = T_OP;
		return;
	}
	cerror(c, "unexpected character '%c'", ch);
	c->tok = T_EOF;
}

static int is(comp_t *c, const char *t) { return (c->tok == T_OP || c->tok == T_KW) && strcmp(c->text, t) == 0; }

static void expect(comp_t *c, const char *t) {
	if (!is(c, t)) {
		cerror(c, "'%s' expected, found '%s'", t, c->tok == T_EOF ? "end of input" : c->text);
		return;
	}
	next(c);
}

static int emit(comp_t *c, int32_t w) {
	if (c->ncode == c->capcode) {
		c->capcode = c->capcode ? c->capcode * 2 : 256;
		c->code = realloc(c->code, c->capcode * sizeof *c->code);
		if (!c->code) {
			fputs("cmpd: out of memory\n", stderr);
			exit(70);
		}
	}
	c->code[c->ncode] = w;
	return (int)c->ncode++;
}

static int find(char names[][32], int n, const char *name) {
	for (int k = n; k-- > 0;) {
		if (strcmp(names[k], name) == 0) {
			return k;
		}
	}
	return -1;
}

static func_t *func_named(comp_t *c, const char *name) {
	for (int k = 0; k < c->nfuncs; k++) {
		if (strcmp(c->funcs[k].name, name) == 0) {
			return &c->funcs[k];
		}
	}
	if (c->nfuncs == MAX_NAMES) {
		cerror(c, "too many functions");
		return &c->funcs[0];
	}
	func_t *f = &c->funcs[c->nfuncs++];
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	f->arity = -1;
	return f;
}

static void expr(comp_t *c);

static void load_var(comp_t *c, const char *name) {
	int k;
	if (c->cur && (k = find(c->locals, c->nlocals, name)) >= 0) {
		emit(c, OP_LOADL);
		emit(c, k);
	} else if ((k = find(c->globals, c->nglobals, name)) >= 0) {
		emit(c, OP_LOADG);
		emit(c, k);
	} else {
		cerror(c, "undefined variable '%s'", name);
	}
}

static void primary(comp_t *c) {
	if (c->tok == T_NUM) {
		if (c->nconsts == (int)(sizeof c->consts / sizeof c->consts[0])) {
			cerror(c, "too many constants");
			return;
		}
		c->consts[c->nconsts] = c->num;
		emit(c, OP_CONST);
		emit(c, c->nconsts++);
		next(c);
		return;
	}
	if (c->tok == T_IDENT) {
		char name[64];
		memcpy(name, c->text, sizeof name);
		next(c);
		if (is(c, "(")) {
			next(c);
			int argc = 0;
			if (!is(c, ")")) {
				for (;;) {
					expr(c);
					argc++;
					if (!is(c, ",")) {
						break;
					}
					next(c);
				}
			}
			expect(c, ")");
			func_t *f = func_named(c, name);
			emit(c, OP_CALL);
			if (c->nfixups == (int)(sizeof c->fixups / sizeof c->fixups[0])) {
				cerror(c, "too many calls");
				return;
			}
			c->fixups[c->nfixups++] = emit(c, (int32_t)(f - c->funcs));
			emit(c, argc);
			return;
		}
		load_var(c, name);
		return;
	}
	if (is(c, "(")) {
		next(c);
		expr(c);
		expect(c, ")");
		return;
	}
	if (is(c, "-") || is(c, "!")) {
		int op = is(c, "-") ? OP_NEG : OP_NOT;
		next(c);
		primary(c);
		emit(c, op);
		return;
	}
	cerror(c, "expression expected, found '%s'", c->tok == T_EOF ? "end of input" : c->text);
}

static const struct {
	const char *op;
	int prec;
	int code;
} binops[] = {
	{"||", 1, -1}, {"&&", 2, -2}, {"==", 3, OP_EQ}, {"!=", 3, OP_NE}, {"<", 4, OP_LT},
	{"<=", 4, OP_LE}, {">", 4, OP_GT}, {">=", 4, OP_GE}, {"+", 5, OP_ADD}, {"-", 5, OP_SUB},
	{"*", 6, OP_MUL}, {"/", 6, OP_DIV}, {"%", 6, OP_MOD}, {NULL, 0, 0},
};

static int binop(comp_t *c, int *code) {
	if (c->tok != T_OP) {
		return 0;
	}
	for (int k = 0; binops[k].op; k++) {
		if (strcmp(c->text, binops[k].op) == 0) {
			*code = binops[k].code;
			return binops[k].prec;
		}
	}
	return 0;
}

static void climb(comp_t *c, int minprec) {
	primary(c);
	int code, prec;
	while (!c->failed && (prec = binop(c, &code)) >= minprec && prec > 0) {
		next(c);
		if (code < 0) { // short-circuit: a DUP JZ/… POP b
			emit(c, OP_DUP);
			if (code == -2) {
				emit(c, OP_JZ);
			} else {
				emit(c, OP_NOT);
				emit(c, OP_JZ);
			}
			int patch = emit(c, 0);
			emit(c, OP_POP);
			climb(c, prec + 1);
			c->code[patch] = (int32_t)c->ncode;
			continue;
		}
		climb(c, prec + 1);
		emit(c, code);
	}
}

static void expr(comp_t *c) { climb(c, 1); }

static void statement(comp_t *c);

static void block(comp_t *c) {
	expect(c, "{");
	while (!c->failed && !is(c, "}") && c->tok != T_EOF) {
		statement(c);
	}
	expect(c, "}");
}

static int declare(comp_t *c, const char *name) {
	char (*names)[32] = c->cur ? c->locals : c->globals;
	int *n = c->cur ? &c->nlocals : &c->nglobals;
	int k = find(names, *n, name);
	if (k >= 0) {
		return k;
	}
	if (*n == MAX_NAMES) {
		cerror(c, "too many variables");
		return 0;
	}
	snprintf(names[*n], 32, "%s", name);
	return (*n)++;
}

static void function(comp_t *c) {
	if (c->cur) {
		cerror(c, "nested functions are not supported");
		return;
	}
	if (c->tok != T_IDENT) {
		cerror(c, "function name expected");
		return;
	}
	func_t *f = func_named(c, c->text);
	if (f->defined) {
		cerror(c, "function '%s' defined twice", f->name);
		return;
	}
	next(c);
	emit(c, OP_JMP);
	int skip = emit(c, 0);
	f->defined = 1;
	f->entry = (int)c->ncode;
	c->cur = f;
	c->nlocals = 0;
	expect(c, "(");
	if (!is(c, ")")) {
		for (;;) {
			if (c->tok != T_IDENT) {
				cerror(c, "parameter name expected");
				break;
			}
			declare(c, c->text);
			next(c);
			if (!is(c, ",")) {
				break;
			}
			next(c);
		}
	}
	f->arity = c->nlocals;
	expect(c, ")");
	block(c);
	// implicit return 0
	c->consts[c->nconsts < 1024 ? c->nconsts : 1023] = 0;
	emit(c, OP_CONST);
	emit(c, c->nconsts < 1024 ? c->nconsts++ : 1023);
	emit(c, OP_RET);
	f->nlocals = c->nlocals;
	c->cur = NULL;
	c->code[skip] = (int32_t)c->ncode;
}

// assignment_ahead reports whether the identifier just read is followed by
// a single '=' (the lexer stopped right after the identifier).
static int assignment_ahead(comp_t *c) {
	size_t p = c->pos;
	while (c->src[p] == ' ' || c->src[p] == '\t' || c->src[p] == '\r' || c->src[p] == '\n') {
		p++;
	}
	return c->src[p] == '=' && c->src[p + 1] != '=';
}

static void statement(comp_t *c) {
	if (is(c, "let")) {
		next(c);
		if (c->tok != T_IDENT) {
			cerror(c, "variable name expected");
			return;
		}
		char name[64];
		memcpy(name, c->text, sizeof name);
		next(c);
		expect(c, "=");
		expr(c);
		int k = declare(c, name);
		emit(c, c->cur ? OP_STOREL : OP_STOREG);
		emit(c, k);
		expect(c, ";");
	} else if (is(c, "print")) {
		next(c);
		int n = 0;
		for (;;) {
			expr(c);
			n++;
			if (!is(c, ",")) {
				break;
			}
			next(c);
		}
		emit(c, OP_PRINT);
		emit(c, n);
		expect(c, ";");
	} else if (is(c, "if")) {
		next(c);
		expect(c, "(");
		expr(c);
		expect(c, ")");
		emit(c, OP_JZ);
		int patch = emit(c, 0);
		block(c);
		if (is(c, "else")) {
			next(c);
			emit(c, OP_JMP);
			int over = emit(c, 0);
			c->code[patch] = (int32_t)c->ncode;
			if (is(c, "if")) {
				statement(c);
			} else {
				block(c);
			}
			c->code[over] = (int32_t)c->ncode;
		} else {
			c->code[patch] = (int32_t)c->ncode;
		}
	} else if (is(c, "while")) {
		next(c);
		int top = (int)c->ncode;
		expect(c, "(");
		expr(c);
		expect(c, ")");
		emit(c, OP_JZ);
		int patch = emit(c, 0);
		block(c);
		emit(c, OP_JMP);
		emit(c, top);
		c->code[patch] = (int32_t)c->ncode;
	} else if (is(c, "fn")) {
		next(c);
		function(c);
	} else if (is(c, "return")) {
		if (!c->cur) {
			cerror(c, "return outside a function");
			return;
		}
		next(c);
		expr(c);
		emit(c, OP_RET);
		expect(c, ";");
	} else if (c->tok == T_IDENT && assignment_ahead(c)) {
		char name[64];
		memcpy(name, c->text, sizeof name);
		next(c);
		expect(c, "=");
		expr(c);
		int k;
		if (c->cur && (k = find(c->locals, c->nlocals, name)) >= 0) {
			emit(c, OP_STOREL);
		} else if ((k = find(c->globals, c->nglobals, name)) >= 0) {
			emit(c, OP_STOREG);
		} else {
			cerror(c, "assignment to undeclared '%s'", name);
			return;
		}
		emit(c, k);
		expect(c, ";");
	} else {
		expr(c);
		emit(c, OP_POP);
		expect(c, ";");
	}
}

static void print_num(buf_t *out, double d) {
	if (d == (double)(long long)d && fabs(d) < 1e15) {
		buf_printf(out, "%lld", (long long)d);
	} else {
		buf_printf(out, "%.15g", d);
	}
}

typedef struct {
	int ret;
	int base;
} frame_t;

static int execute(comp_t *c, buf_t *out) {
	double *stack = calloc(MAX_STACK, sizeof *stack);
	double globals[MAX_NAMES] = {0};
	frame_t frames[MAX_FRAMES];
	int nframes = 0, sp = 0, pc = 0, base = 0, rc = -1;
	long steps = 0;
	if (!stack) {
		return -1;
	}
#define NEED(k)                                                                                            \
	if (sp < (k)) {                                                                                    \
		cerror(c, "stack underflow at %d", pc);                                                    \
		goto done;                                                                                 \
	}
#define PUSH(v)                                                                                            \
	do {                                                                                               \
		if (sp == MAX_STACK) {                                                                     \
			cerror(c, "stack overflow");                                                       \
			goto done;                                                                         \
		}                                                                                          \
		stack[sp++] = (v);                                                                         \
	} while (0)
	for (;;) {
		if (++steps > MAX_STEPS) {
			cerror(c, "step budget exhausted");
			goto done;
		}
		if (pc < 0 || (size_t)pc >= c->ncode) {
			cerror(c, "pc out of range");
			goto done;
		}
		int32_t op = c->code[pc++];
		double a, b;
		switch (op) {
		case OP_CONST: PUSH(c->consts[c->code[pc++]]); break;
		case OP_LOADG: PUSH(globals[c->code[pc++]]); break;
		case OP_STOREG: NEED(1); globals[c->code[pc++]] = stack[--sp]; break;
		case OP_LOADL: PUSH(stack[base + c->code[pc++]]); break;
		case OP_STOREL: NEED(1); stack[base + c->code[pc]] = stack[--sp]; pc++; break;
		case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
		case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE:
			NEED(2);
			b = stack[--sp];
			a = stack[--sp];
			switch (op) {
			case OP_ADD: a = a + b; break;
			case OP_SUB: a = a - b; break;
			case OP_MUL: a = a * b; break;
			case OP_DIV: a = a / b; break;
			case OP_MOD: a = fmod(a, b); break;
			case OP_EQ: a = a == b; break;
			case OP_NE: a = a != b; break;
			case OP_LT: a = a < b; break;
			case OP_LE: a = a <= b; break;
			case OP_GT: a = a > b; break;
			default: a = a >= b; break;
			}
			stack[sp++] = a;
			break;
		case OP_NEG: NEED(1); stack[sp - 1] = -stack[sp - 1]; break;
		case OP_NOT: NEED(1); stack[sp - 1] = stack[sp - 1] == 0; break;
		case OP_JMP: pc = c->code[pc]; break;
		case OP_JZ: NEED(1); pc = stack[--sp] == 0 ? c->code[pc] : pc + 1; break;
		case OP_DUP: NEED(1); a = stack[sp - 1]; PUSH(a); break;
		case OP_POP: NEED(1); sp--; break;
		case OP_CALL: {
			func_t *f = &c->funcs[c->code[pc]];
			int argc = c->code[pc + 1];
			pc += 2;
			if (!f->defined) {
				cerror(c, "call of undefined function '%s'", f->name);
				goto done;
			}
			if (argc != f->arity) {
				cerror(c, "'%s' takes %d arguments, got %d", f->name, f->arity, argc);
				goto done;
			}
			if (nframes == MAX_FRAMES) {
				cerror(c, "call depth exceeded");
				goto done;
			}
			NEED(argc);
			frames[nframes].ret = pc;
			frames[nframes].base = base;
			nframes++;
			base = sp - argc;
			for (int k = argc; k < f->nlocals; k++) {
				PUSH(0);
			}
			pc = f->entry;
			break;
		}
		case OP_RET:
			NEED(1);
			if (!nframes) {
				cerror(c, "return at top level");
				goto done;
			}
			a = stack[--sp];
			sp = base;
			nframes--;
			pc = frames[nframes].ret;
			base = frames[nframes].base;
			PUSH(a);
			break;
		case OP_PRINT: {
			int n = c->code[pc++];
			NEED(n);
			for (int k = sp - n; k < sp; k++) {
				if (k > sp - n) {
					buf_putc(out, ' ');
				}
				print_num(out, stack[k]);
			}
			buf_putc(out, '\n');
			sp -= n;
			break;
		}
		case OP_HALT: rc = 0; goto done;
		default: cerror(c, "bad opcode %d", op); goto done;
		}
	}
done:
	free(stack);
	return rc;
#undef NEED
#undef PUSH
}

int vm_run(const char *src, buf_t *out, char *err, size_t errlen) {
	comp_t *c = calloc(1, sizeof *c);
	if (!c) {
		return -1;
	}
	c->src = src;
	c->line = 1;
	c->err = err;
	c->errlen = errlen;
	err[0] = 0;
	next(c);
	while (!c->failed && c->tok != T_EOF) {
		statement(c);
	}
	emit(c, OP_HALT);
	for (int k = 0; k < c->nfixups && !c->failed; k++) {
		func_t *f = &c->funcs[c->code[c->fixups[k]]];
		if (!f->defined) {
			cerror(c, "call of undefined function '%s'", f->name);
		}
	}
	int rc = c->failed ? -1 : execute(c, out);
	free(c->code);
	free(c);
	return rc;
}
