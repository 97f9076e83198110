// recurse: call-heavy work with little in each call, the recursion workload of
// the fuel benchmark: naive Fibonacci, Ackermann and binary trees built and
// walked recursively (malloc/free per node). Usage: recurse [rounds] (default
// 150). Prints the results.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

__attribute__((noinline)) static uint32_t ack(uint32_t m, uint32_t n) {
    if (m == 0) return n + 1;
    if (n == 0) return ack(m - 1, 1);
    return ack(m - 1, ack(m, n - 1));
}

typedef struct node { struct node *l, *r; } node;

__attribute__((noinline)) static node *tree(int d) {
    node *t = malloc(sizeof *t);
    if (!t) { fprintf(stderr, "out of memory\n"); exit(1); }
    t->l = d > 0 ? tree(d - 1) : NULL;
    t->r = d > 0 ? tree(d - 1) : NULL;
    return t;
}

__attribute__((noinline)) static uint32_t check(node *t) { return t->l ? 1 + check(t->l) + check(t->r) : 1; }

__attribute__((noinline)) static void drop(node *t) {
    if (t->l) { drop(t->l); drop(t->r); }
    free(t);
}

int main(int argc, char **argv) {
    int s = argc > 1 ? atoi(argv[1]) : 150;
    uint64_t f = 0, a = 0, nodes = 0;
    for (int i = 0; i < s; i++) {
        f += fib(24 + i % 4);
        a += ack(2, 400 + i) + ack(3, 5 + i % 3);
        node *t = tree(14 + i % 3);
        nodes += check(t);
        drop(t);
    }
    printf("recurse fib=%llu ack=%llu nodes=%llu\n", (unsigned long long)f, (unsigned long long)a,
           (unsigned long long)nodes);
    return 0;
}
