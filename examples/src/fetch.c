// cflags: -Iinternal/fixture/src/c
// The network capability example: a WAGI handler that fetches the URL in
// its query string (?url=...) through wasi_experimental_http and answers
// with the upstream status and body, or with the ABI's error when the
// host refuses the request (403 for destination_not_allowed: the policy's
// allowlist or its private-address rule). See examples/fetch.yaml and
// docs/network.md.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

static const char *names[] = {"success", "invalid_handle", "memory_not_found", "memory_access_error",
                              "buffer_too_small", "header_not_found", "utf8_error", "destination_not_allowed",
                              "invalid_method", "invalid_encoding", "invalid_url", "request_error",
                              "runtime_error", "too_many_sessions"};

static int hex(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// query_url copies the percent-decoded value of "url=" from the query string.
static int query_url(char *out, size_t cap) {
  const char *q = getenv("QUERY_STRING");
  const char *p = q ? strstr(q, "url=") : NULL;
  if (!p || (p != q && p[-1] != '&')) return 0;
  p += 4;
  size_t n = 0;
  while (*p && *p != '&' && n + 1 < cap) {
    if (*p == '%' && hex(p[1]) >= 0 && hex(p[2]) >= 0) {
      out[n++] = (char)(hex(p[1]) * 16 + hex(p[2]));
      p += 3;
    } else {
      out[n++] = *p++;
    }
  }
  out[n] = 0;
  return n > 0;
}

static void fail(int status, http_error_t e) {
  printf("Status: %d\nContent-Type: text/plain\n\nrefused: error %u (%s)\n", status, e, e < 14 ? names[e] : "?");
}

int main(void) {
  static char url[2048];
  static unsigned char buf[16384];
  if (!query_url(url, sizeof url)) {
    printf("Status: 400\nContent-Type: text/plain\n\nusage: ?url=http://host/path\n");
    return 0;
  }
  uint16_t status = 0;
  response_handle_t h;
  http_error_t e = wasi_http_req(url, strlen(url), "GET", 3, "", 0, NULL, 0, &status, &h);
  if (e) {
    fail(e == HTTP_DESTINATION_NOT_ALLOWED ? 403 : 502, e);
    return 0;
  }
  printf("Content-Type: text/plain\n\nupstream status %u\n", status);
  size_t n;
  while ((e = wasi_http_body_read(h, buf, sizeof buf, &n)) == 0 && n > 0)
    fwrite(buf, 1, n, stdout);
  if (e) printf("\n(body cut: error %u, %s)\n", e, e < 14 ? names[e] : "?");
  wasi_http_close(h);
  return 0;
}
