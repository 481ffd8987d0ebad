// Process events from the kernel's process-events connector (netlink
// NETLINK_CONNECTOR, CN_IDX_PROC), delivered to JavaScript in batches.
//
// A reader thread owns the socket: it blocks in poll() on the socket and an
// eventfd (the stop signal), drains datagrams with recvmmsg and, on each EXEC,
// reads at once what identifies the program and its context: the exe link,
// argv, status (PPid, Uid, CapEff), stat (tty), the network namespace, cgroup,
// selected environment variables and the live parent chain. A process that
// lives for a millisecond is gone by the time a busy JavaScript thread could
// read /proc; the thread reads it microseconds after the exec instead.
//
// The thread appends to a pending batch under a mutex and wakes JavaScript
// with one napi_threadsafe_function call per batch; the JavaScript thread
// swaps the pending batch with its own (double buffering) and delivers it.
// The pending batch is bounded (as many bytes as the socket's receive
// buffer): when JavaScript does not drain it, the thread stops reading and
// the kernel's buffer takes the overflow, which the sequence numbers count.
//
// Lost events: the connector numbers its messages per CPU, so a gap in a CPU's
// sequence counts exactly the events dropped (socket buffer overflow, which
// also shows as ENOBUFS, or kernel allocation failure).
//
// From the `run` launcher (launcher.c), the same events arrive already read
// and snapshotted, as frames on a pipe (open's fourth argument): the thread
// reads the pipe instead of the socket and batches them the same way.
//
// Shutdown: close() sets the stop flag and writes the eventfd; the thread
// leaves its loop and releases the threadsafe function, whose finalizer (on
// the JavaScript thread) joins it and frees the buffers. The connection
// struct itself is freed when both that finalizer and the JS wrapper's have
// run.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "reader.h"

typedef struct {
  double *rec;
  size_t nrec, rec_cap;
  double *extra; /* one row per EXEC record, in record order */
  size_t nextra, extra_cap;
  char *arena;
  size_t arena_len, arena_cap;
  struct span {
    uint32_t off, len;
  } *str;
  size_t nstr, nstr_cap;
  double lost, overflows;
  char error[160];
} batch_t;

typedef struct {
  reader_t rd;     /* rd.fd: the socket, or the launcher's pipe */
  int from_pipe;
  int wake_fd;
  pthread_t thread;
  int thread_started;
  napi_threadsafe_function tsfn;
  int stop;        /* __atomic: the thread leaves its loop */
  int closed;      /* JS thread only: close() called, deliver nothing more */
  int unrefed;     /* JS thread only */
  int tsfn_done;   /* JS thread only: threadsafe function finalized, thread joined */
  int finalized;   /* JS thread only: JS wrapper collected */

  pthread_mutex_t lock; /* guards pending, notified, lost_total */
  pthread_cond_t drained;
  batch_t pending;
  int notified;         /* a threadsafe call is queued and has not swapped yet */
  double lost_total;
  batch_t deliver;      /* JS thread only */
  size_t queue_bytes;

  /* reader thread only: frames read from the pipe, not yet parsed */
  char *in;
  size_t in_len, in_cap;
} conn_t;

/* ---------- batches ---------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  void *q = realloc(*p, n * elem);
  if (!q) return -1;
  *p = q;
  *cap = n;
  return 0;
}

static size_t batch_used(const batch_t *b) {
  return b->nrec * REC_WIDTH * sizeof(double) + b->nextra * EXTRA_WIDTH * sizeof(double) + b->arena_len + b->nstr * sizeof(struct span);
}

static size_t stage_bytes(const stage_t *st) {
  return REC_WIDTH * sizeof(double) + (st->has_extra ? EXTRA_WIDTH * sizeof(double) : 0) + st->bytes + (size_t)st->ns * sizeof(struct span);
}

static int batch_empty(const batch_t *b) {
  return b->nrec == 0 && b->lost == 0 && b->overflows == 0 && b->error[0] == '\0';
}

static void batch_clear(batch_t *b) {
  b->nrec = b->nextra = b->arena_len = b->nstr = 0;
  b->lost = b->overflows = 0;
  b->error[0] = '\0';
}

static void batch_free(batch_t *b) {
  free(b->rec);
  free(b->extra);
  free(b->arena);
  free(b->str);
  memset(b, 0, sizeof *b);
}

/* Copies a staged event in; its string fields become indexes into the batch. -1 when out of memory. */
static int batch_append(batch_t *b, stage_t *st) {
  if (grow((void **)&b->rec, &b->rec_cap, (b->nrec + 1) * REC_WIDTH, sizeof(double)) < 0) return -1;
  if (st->has_extra && grow((void **)&b->extra, &b->extra_cap, (b->nextra + 1) * EXTRA_WIDTH, sizeof(double)) < 0) return -1;
  if (grow((void **)&b->str, &b->nstr_cap, b->nstr + (size_t)st->ns, sizeof(struct span)) < 0) return -1;
  if (grow((void **)&b->arena, &b->arena_cap, b->arena_len + st->bytes, 1) < 0) return -1;
  for (int i = 0; i < st->ns; i++) {
    if (st->s[i].len) memcpy(b->arena + b->arena_len, st->s[i].p, st->s[i].len);
    b->str[b->nstr].off = (uint32_t)b->arena_len;
    b->str[b->nstr].len = (uint32_t)st->s[i].len;
    *st->s[i].dst = (double)b->nstr;
    b->arena_len += st->s[i].len;
    b->nstr++;
  }
  memcpy(b->rec + b->nrec * REC_WIDTH, st->rec, sizeof st->rec);
  b->nrec++;
  if (st->has_extra) {
    memcpy(b->extra + b->nextra * EXTRA_WIDTH, st->extra, sizeof st->extra);
    b->nextra++;
  }
  return 0;
}

/* ---------- reader thread ---------- */

static int stopping(conn_t *c) { return __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); }

/* Queues one threadsafe call unless one is pending. Called with the lock held; drops it around the call. */
static void kick_locked(conn_t *c) {
  if (c->notified || batch_empty(&c->pending)) return;
  c->notified = 1;
  pthread_mutex_unlock(&c->lock);
  napi_status st = napi_call_threadsafe_function(c->tsfn, NULL, napi_tsfn_nonblocking);
  pthread_mutex_lock(&c->lock);
  if (st != napi_ok) {
    c->notified = 0;
    if (st == napi_closing) __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
  }
}

/* Appends an event; waits while the pending batch is full (the kernel buffer takes the overflow meanwhile). */
static void publish(void *ctx, stage_t *st) {
  conn_t *c = (conn_t *)ctx;
  pthread_mutex_lock(&c->lock);
  size_t need = stage_bytes(st);
  while (c->pending.nrec > 0 && batch_used(&c->pending) + need > c->queue_bytes && !stopping(c)) {
    kick_locked(c);
    if (!c->notified || stopping(c)) break;
    pthread_cond_wait(&c->drained, &c->lock);
  }
  int full = c->pending.nrec > 0 && batch_used(&c->pending) + need > c->queue_bytes;
  if (stopping(c) || full || batch_append(&c->pending, st) < 0) {
    c->pending.lost++; /* closing, JavaScript unreachable, or out of memory */
    c->lost_total++;
  }
  pthread_mutex_unlock(&c->lock);
}

static void publish_counts(conn_t *c, double lost, double overflows, const char *error) {
  pthread_mutex_lock(&c->lock);
  c->pending.lost += lost;
  c->pending.overflows += overflows;
  c->lost_total += lost;
  if (error && c->pending.error[0] == '\0') snprintf(c->pending.error, sizeof c->pending.error, "%s", error);
  kick_locked(c);
  pthread_mutex_unlock(&c->lock);
}

/* Waits for the socket (or pipe) or the stop signal; 1 when there is something to read, 0 to stop. */
static int wait_readable(conn_t *c, char *errbuf, size_t errlen, const char **error) {
  struct pollfd pfd[2] = {{.fd = c->rd.fd, .events = POLLIN}, {.fd = c->wake_fd, .events = POLLIN}};
  for (;;) {
    int pr = poll(pfd, 2, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      snprintf(errbuf, errlen, "poll: %s", strerror(errno));
      *error = errbuf;
      return 0;
    }
    if (pfd[1].revents || stopping(c)) return 0;
    if (pfd[0].revents & POLLNVAL) {
      snprintf(errbuf, errlen, "poll: %s closed", c->from_pipe ? "pipe" : "socket");
      *error = errbuf;
      return 0;
    }
    /* a hung-up pipe still holds what was written before: read reports the end */
    if ((pfd[0].revents & POLLHUP) && !c->from_pipe) {
      snprintf(errbuf, errlen, "poll: socket hung up");
      *error = errbuf;
      return 0;
    }
    return 1;
  }
}

static void socket_loop(conn_t *c, char *errbuf, size_t errlen, const char **error) {
  while (!stopping(c) && !*error && wait_readable(c, errbuf, errlen, error)) {
    while (!stopping(c)) {
      double lost = 0, overflows = 0;
      int n = reader_round(&c->rd, &lost, &overflows, errbuf, errlen);
      if (n < 0) {
        *error = errbuf;
        break;
      }
      /* hand over what this round read (publish_counts also wakes JavaScript) */
      publish_counts(c, lost, overflows, NULL);
      if (n < VLEN) break;
    }
  }
}

/* Frames from the launcher: events it read and snapshotted, its counts and errors, in order. */
static void pipe_loop(conn_t *c, char *errbuf, size_t errlen, const char **error) {
  while (!stopping(c) && !*error && wait_readable(c, errbuf, errlen, error)) {
    ssize_t r = read(c->rd.fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      snprintf(errbuf, errlen, "read from the launcher: %s", strerror(errno));
      *error = errbuf;
      break;
    }
    if (r == 0) {
      snprintf(errbuf, errlen, "the launcher's event stream ended");
      *error = errbuf;
      break;
    }
    c->in_len += (size_t)r;
    size_t off = 0;
    for (;;) {
      stage_t st;
      int type;
      double lost = 0, overflows = 0;
      char text[160];
      ssize_t n = frame_parse(c->in + off, c->in_len - off, &type, &st, &lost, &overflows, text, sizeof text);
      if (n == 0) break;
      if (n < 0) {
        snprintf(errbuf, errlen, "malformed frame from the launcher");
        *error = errbuf;
        break;
      }
      off += (size_t)n;
      if (type == FRAME_EVENT) publish(c, &st);
      else publish_counts(c, lost, overflows, type == FRAME_ERROR ? text : NULL);
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    publish_counts(c, 0, 0, NULL);
  }
}

static void *reader_main(void *arg) {
  conn_t *c = (conn_t *)arg;
  char errbuf[160];
  const char *error = NULL;
  if (c->from_pipe) pipe_loop(c, errbuf, sizeof errbuf, &error);
  else socket_loop(c, errbuf, sizeof errbuf, &error);
  if (error) publish_counts(c, 0, 0, error);
  napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
  return NULL;
}

/* ---------- JavaScript thread ---------- */

static void request_stop(conn_t *c) {
  __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
  if (c->wake_fd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(c->wake_fd, &one, sizeof one);
    (void)w;
  }
  pthread_mutex_lock(&c->lock);
  pthread_cond_broadcast(&c->drained);
  pthread_mutex_unlock(&c->lock);
}

/* Socket and buffers, once no thread uses them; idempotent. The struct stays for the JS wrapper. */
static void conn_release(conn_t *c) {
  if (c->rd.fd >= 0) close(c->rd.fd);
  if (c->wake_fd >= 0) close(c->wake_fd);
  c->rd.fd = c->wake_fd = -1;
  batch_free(&c->pending);
  batch_free(&c->deliver);
  reader_free(&c->rd);
  free(c->in);
  c->in = NULL;
}

static void conn_free(conn_t *c) {
  conn_release(c);
  pthread_cond_destroy(&c->drained);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

/* Runs once the thread has released the function (or at environment teardown): join, then release. */
static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  conn_t *c = (conn_t *)data;
  request_stop(c);
  if (c->thread_started) pthread_join(c->thread, NULL);
  c->thread_started = 0;
  c->tsfn = NULL;
  c->tsfn_done = 1;
  conn_release(c);
  if (c->finalized) conn_free(c);
}

static napi_value typed(napi_env env, const double *src, size_t count) {
  napi_value ab, out;
  void *data;
  if (napi_create_arraybuffer(env, count * sizeof(double), &data, &ab) != napi_ok) return NULL;
  if (count > 0) memcpy(data, src, count * sizeof(double));
  if (napi_create_typedarray(env, napi_float64_array, count, ab, 0, &out) != napi_ok) return NULL;
  return out;
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)data;
  conn_t *c = (conn_t *)context;
  if (env == NULL || js_cb == NULL) return; /* teardown */
  pthread_mutex_lock(&c->lock);
  batch_t b = c->pending;
  c->pending = c->deliver;
  c->deliver = b;
  c->notified = 0;
  pthread_cond_broadcast(&c->drained);
  pthread_mutex_unlock(&c->lock);
  batch_t *d = &c->deliver;
  if (c->closed || batch_empty(d)) {
    batch_clear(d);
    return;
  }
  napi_value argv[6], recv, strings, v;
  int ok = napi_create_array_with_length(env, d->nstr, &strings) == napi_ok;
  for (size_t i = 0; ok && i < d->nstr; i++)
    ok = napi_create_string_utf8(env, d->arena + d->str[i].off, d->str[i].len, &v) == napi_ok && napi_set_element(env, strings, (uint32_t)i, v) == napi_ok;
  argv[0] = typed(env, d->rec, d->nrec * REC_WIDTH);
  argv[1] = strings;
  argv[5] = typed(env, d->extra, d->nextra * EXTRA_WIDTH);
  ok = ok && argv[0] && argv[5];
  ok = ok && napi_create_double(env, d->lost, &argv[2]) == napi_ok && napi_create_double(env, d->overflows, &argv[3]) == napi_ok;
  if (ok && d->error[0]) ok = napi_create_string_utf8(env, d->error, NAPI_AUTO_LENGTH, &argv[4]) == napi_ok;
  else if (ok) ok = napi_get_undefined(env, &argv[4]) == napi_ok;
  batch_clear(d);
  if (!ok || napi_get_undefined(env, &recv) != napi_ok) return;
  if (napi_call_function(env, recv, js_cb, 6, argv, NULL) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

/* Stops the thread; the loop may exit before it has noticed (the function is unreferenced). Idempotent. */
static void conn_close(napi_env env, conn_t *c) {
  c->closed = 1;
  if (c->tsfn_done) return;
  request_stop(c);
  if (!c->unrefed && c->tsfn) {
    napi_unref_threadsafe_function(env, c->tsfn);
    c->unrefed = 1;
  }
}

static void wrapper_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  conn_t *c = (conn_t *)data;
  conn_close(env, c);
  c->finalized = 1;
  if (c->tsfn_done) conn_free(c);
}

static conn_t *unwrap_this(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, NULL, NULL, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, &data) != napi_ok) return NULL;
  return (conn_t *)data;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  conn_t *c = unwrap_this(env, info);
  if (c) conn_close(env, c);
  return NULL;
}

static napi_value js_lost(napi_env env, napi_callback_info info) {
  napi_value out;
  conn_t *c = unwrap_this(env, info);
  double lost = 0;
  if (c) {
    pthread_mutex_lock(&c->lock);
    lost = c->lost_total;
    pthread_mutex_unlock(&c->lock);
  }
  napi_create_double(env, lost, &out);
  return out;
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == EPROTONOSUPPORT ? "EPROTONOSUPPORT" : err == ENOENT ? "ENOENT" : "EIO";
  napi_throw_error(env, code, msg);
  return NULL;
}

/* Environment variable names to pass on, from an optional array of strings. */
static void read_env_keys(napi_env env, napi_value arr, conn_t *c) {
  bool is_array = false;
  uint32_t n = 0;
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, &n) != napi_ok) return;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    size_t len = 0;
    char name[MAX_ENV_KEY + 1];
    if (napi_get_element(env, arr, i, &v) != napi_ok) continue;
    if (napi_get_value_string_utf8(env, v, name, sizeof name, &len) != napi_ok) continue;
    reader_add_env_key(&c->rd, name, len);
  }
}

/*
 * open(callback, receiveBufferBytes, envKeys?, launcherFd?) -> { close(), lost() }
 * With launcherFd, events come as frames from the `run` launcher on that pipe, which it owns.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "open(callback, rcvbufBytes, envKeys, launcherFd): callback must be a function");
    return NULL;
  }
  int64_t rcvbuf = 8 << 20;
  if (argc > 1) napi_get_value_int64(env, argv[1], &rcvbuf);
  if (rcvbuf < MIN_QUEUE_BYTES) rcvbuf = MIN_QUEUE_BYTES;
  if (rcvbuf > (256 << 20)) rcvbuf = 256 << 20;
  int32_t launcher_fd = -1;
  if (argc > 3 && napi_typeof(env, argv[3], &t) == napi_ok && t == napi_number) napi_get_value_int32(env, argv[3], &launcher_fd);

  int fd;
  if (launcher_fd >= 0) {
    fd = launcher_fd;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) return throw_errno(env, "launcher pipe", errno);
  } else {
    fd = procconn_open_socket(rcvbuf);
    if (fd < 0) {
      const char *what = fd == -EPERM || fd == -EACCES ? "subscribe to process events" : "socket(NETLINK_CONNECTOR, CN_IDX_PROC)";
      return throw_errno(env, what, -fd);
    }
  }

  conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return throw_errno(env, "open", ENOMEM);
  }
  int init_err = reader_init(&c->rd, fd, publish, c); /* sets rd.fd even when it fails, for conn_free to close */
  c->from_pipe = launcher_fd >= 0;
  c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int wake_err = errno;
  c->queue_bytes = (size_t)rcvbuf;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->drained, NULL);
  if (c->from_pipe) {
    c->in_cap = FRAME_MAX + 65536;
    c->in = malloc(c->in_cap);
  }
  if (c->wake_fd < 0 || init_err < 0 || (c->from_pipe && !c->in)) {
    int err = c->wake_fd < 0 ? wake_err : ENOMEM;
    conn_free(c);
    return throw_errno(env, "open", err);
  }
  if (argc > 2) read_env_keys(env, argv[2], c);

  napi_value name;
  napi_create_string_utf8(env, "sniffwatch:procconn", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, c, tsfn_finalize, c, call_js, &c->tsfn) != napi_ok) {
    conn_free(c);
    return throw_errno(env, "napi_create_threadsafe_function", EIO);
  }

  /* The reader thread takes no signals: they stay with the JavaScript thread. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(&c->thread, NULL, reader_main, c);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) {
    /* no thread holds the function: releasing it finalizes it (asynchronously), which frees c */
    c->finalized = 1;
    c->closed = 1;
    napi_release_threadsafe_function(c->tsfn, napi_tsfn_abort);
    return throw_errno(env, "pthread_create", err);
  }
  c->thread_started = 1;

  napi_value self, fn_close, fn_lost;
  napi_create_object(env, &self);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, js_close, NULL, &fn_close);
  napi_create_function(env, "lost", NAPI_AUTO_LENGTH, js_lost, NULL, &fn_lost);
  napi_set_named_property(env, self, "close", fn_close);
  napi_set_named_property(env, self, "lost", fn_lost);
  if (napi_wrap(env, self, c, wrapper_finalize, NULL, NULL) != napi_ok) {
    /* not reachable from JavaScript: stop now; the function's finalizer frees c */
    c->finalized = 1;
    conn_close(env, c);
    return throw_errno(env, "napi_wrap", EIO);
  }
  return self;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, width;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  /* Doubles per exec snapshot row (the sixth callback argument); absent in addons without it. */
  napi_create_uint32(env, EXTRA_WIDTH, &width);
  napi_set_named_property(env, exports, "extraWidth", width);
  /* open() takes the launcher's pipe (fourth argument) */
  napi_value yes;
  napi_get_boolean(env, true, &yes);
  napi_set_named_property(env, exports, "launcherPipe", yes);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
