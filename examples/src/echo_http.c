// echo_http: a WAGI handler that answers with the request it received: the
// method, the path below the route, the headers the route passes and the
// body. POST to it to see stdin at work. Build: scripts/build-fixtures.sh echo_http
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(void) {
  const char *m = getenv("REQUEST_METHOD");
  const char *p = getenv("PATH_INFO");
  printf("Content-Type: text/plain\n\n");
  printf("method: %s\npath: %s\n", m ? m : "", p ? p : "");
  for (char **e = environ; *e; e++)
    if (!strncmp(*e, "HTTP_", 5)) printf("header: %s\n", *e);
  printf("body: ");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) fwrite(buf, 1, n, stdout);
  printf("\n");
  return 0;
}
