// hello_http: a WAGI handler (CGI over WASI). The request arrives as
// environment variables and stdin; the response is a header block, a blank
// line and the body on stdout. Build: scripts/build-fixtures.sh hello_http
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  const char *name = getenv("QUERY_STRING");
  printf("Content-Type: text/plain\n\n");
  printf("Hello from WebAssembly! This request ran in an instance of its own; nothing of it reaches the next.\n");
  if (name && *name) printf("query: %s\n", name);
  return 0;
}
