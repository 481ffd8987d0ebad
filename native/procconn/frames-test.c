// The launcher's pipe frames (reader.c): a round trip of each kind, then
// random mutants of valid frames, which must parse or be rejected, never read
// outside the buffer (test/unit/launcher-frames.test.ts builds this with the
// address and undefined-behaviour sanitizers where the compiler has them).
//   frames-test [MUTANTS]   prints "ok: ..." and exits 0, or names what failed and exits 1
#define _GNU_SOURCE
#include "reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
  printf("failed: %s\n", what);
  return 1;
}

int main(int argc, char **argv) {
  long mutants = argc > 1 ? atol(argv[1]) : 200000;
  static char buf[FRAME_MAX + 64], mut[FRAME_MAX + 64];
  static const char exe[] = "/usr/bin/tcpdump", args[] = "tcpdump\0-c\0001\0", cgroup[] = "0::/user.slice\n";
  stage_t st;
  memset(&st, 0, sizeof st);
  st.rec[0] = K_EXEC;
  st.rec[1] = 1234;
  st.has_extra = 1;
  st.s[0].p = exe, st.s[0].len = sizeof exe - 1, st.s[0].dst = &st.rec[2];
  st.s[1].p = args, st.s[1].len = sizeof args - 1, st.s[1].dst = &st.rec[3];
  st.s[2].p = cgroup, st.s[2].len = sizeof cgroup - 1, st.s[2].dst = &st.extra[X_CGROUP];
  st.ns = 3;
  st.bytes = st.s[0].len + st.s[1].len + st.s[2].len;
  size_t n = frame_event_size(&st);
  frame_event(&st, buf);
  n += frame_counts(3, 1, buf + n);
  n += frame_error("recvmmsg: No buffer space available", buf + n);

  size_t off = 0;
  int frames = 0;
  for (;;) {
    stage_t o;
    int type;
    double lost, overflows;
    char err[160];
    ssize_t r = frame_parse(buf + off, n - off, &type, &o, &lost, &overflows, err, sizeof err);
    if (r < 0) return fail("a valid frame was rejected");
    if (r == 0) break;
    if (type == FRAME_EVENT && (o.ns != 3 || o.rec[1] != 1234 || o.s[0].dst != &o.rec[2] || o.s[2].dst != &o.extra[X_CGROUP] || o.s[1].len != sizeof args - 1 || memcmp(o.s[1].p, args, sizeof args - 1) != 0))
      return fail("event round trip");
    if (type == FRAME_COUNTS && (lost != 3 || overflows != 1)) return fail("counts round trip");
    if (type == FRAME_ERROR && strcmp(err, "recvmmsg: No buffer space available") != 0) return fail("error round trip");
    off += (size_t)r;
    frames++;
  }
  if (frames != 3 || off != n) return fail("three frames, all of the buffer");
  for (size_t cut = 0; cut < n; cut++) {
    stage_t o;
    int type;
    double lost, overflows;
    char err[160];
    if (frame_parse(buf, cut, &type, &o, &lost, &overflows, err, sizeof err) > 0 && cut < frame_event_size(&st)) return fail("a cut frame parsed");
  }

  /* more strings than an event has: rejected before any is kept */
  {
    char many[5 + sizeof st.rec + 2 + (STRINGS_PER_EVENT + 1) * 5];
    uint32_t body = sizeof many - 4;
    memcpy(many, &body, 4);
    many[4] = FRAME_EVENT;
    memset(many + 5, 0, sizeof st.rec);
    many[5 + sizeof st.rec] = 0;
    many[5 + sizeof st.rec + 1] = STRINGS_PER_EVENT + 1;
    for (int i = 0; i <= STRINGS_PER_EVENT; i++) memset(many + 5 + sizeof st.rec + 2 + i * 5, 0, 5), many[5 + sizeof st.rec + 2 + i * 5] = 2;
    stage_t o;
    int type;
    double lost, overflows;
    char err[160];
    if (frame_parse(many, sizeof many, &type, &o, &lost, &overflows, err, sizeof err) != -1) return fail("an event with too many strings was taken");
  }

  srand(7);
  long parsed = 0, rejected = 0;
  for (long i = 0; i < mutants; i++) {
    size_t len = n;
    memcpy(mut, buf, n);
    for (int k = 1 + rand() % 6; k > 0; k--) {
      size_t at = (size_t)rand() % len;
      switch (rand() % 4) {
        case 0: mut[at] = (char)rand(); break;
        case 1: mut[at] ^= (char)(1 << (rand() % 8)); break;
        case 2: len = at + 1; break;
        default: {
          uint32_t v = rand() % 2 ? 0xffffffffu : (uint32_t)rand();
          if (at + 4 <= len) memcpy(mut + at, &v, 4);
        }
      }
    }
    char *heap = malloc(len); /* exactly the input: a read past it is the sanitizer's to catch */
    if (!heap) return fail("malloc");
    memcpy(heap, mut, len);
    for (size_t at = 0;;) {
      stage_t o;
      int type;
      double lost, overflows;
      char err[160];
      ssize_t r = frame_parse(heap + at, len - at, &type, &o, &lost, &overflows, err, sizeof err);
      if (r == 0) break;
      if (r < 0) {
        rejected++;
        break;
      }
      for (int s = 0; type == FRAME_EVENT && s < o.ns; s++)
        if (o.s[s].p < heap + at || o.s[s].p + o.s[s].len > heap + at + (size_t)r) {
          free(heap);
          return fail("a string outside its frame");
        }
      if (type == FRAME_ERROR && strlen(err) >= sizeof err) return fail("error text unterminated");
      at += (size_t)r;
      parsed++;
    }
    free(heap);
  }
  printf("ok: %ld mutants, %ld frames parsed, %ld rejected\n", mutants, parsed, rejected);
  return 0;
}
