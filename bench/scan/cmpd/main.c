// The driver of the C benchmark module: libmpdec (arbitrary-precision
// decimal arithmetic, from the copy vendored in OPA's wasm sources) built
// with wasi-libc at -O2 -g.
#include <stdio.h>
#include "mpdecimal.h"
int main(int argc, char **argv) {
	mpd_context_t ctx;
	uint32_t st = 0;
	mpd_maxcontext(&ctx);
	ctx.prec = 500;
	mpd_t *a = mpd_qnew(), *b = mpd_qnew(), *c = mpd_qnew();
	mpd_qset_string(a, argc > 1 ? argv[1] : "2", &ctx, &st);
	mpd_qsqrt(b, a, &ctx, &st);
	mpd_qexp(c, b, &ctx, &st);
	mpd_qln(c, c, &ctx, &st);
	mpd_qpow(c, c, a, &ctx, &st);
	mpd_qdiv(c, c, b, &ctx, &st);
	printf("%s\n", mpd_to_sci(c, 0));
	return 0;
}
