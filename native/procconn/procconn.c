// Process events from the kernel's process-events connector (netlink
// NETLINK_CONNECTOR, CN_IDX_PROC), delivered to JavaScript in batches.
//
// The socket is non-blocking and watched with uv_poll, so the event loop never
// blocks and nothing spins. Each readiness callback drains a bounded number of
// datagrams with recvmmsg and makes one call into JavaScript.
//
// A process that lives for a millisecond may be gone before JavaScript gets to
// read /proc, so on EXEC this file snapshots what identifies the program
// (exe link, argv, PPid/Uid/CapEff from status) at once, in the callback that
// received the event.
//
// Lost events: the connector numbers its messages per CPU, so a gap in a CPU's
// sequence counts exactly the events dropped (socket buffer overflow, which
// also shows as ENOBUFS, or kernel allocation failure).

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define VLEN 64              /* datagrams per recvmmsg */
#define DGRAM_SIZE 1024      /* one proc event datagram is ~100 bytes */
#define MAX_ROUNDS 64        /* recvmmsg calls per readiness callback, then yield */
#define MAX_CPUS 8192        /* per-CPU sequence tracking; events from higher CPUs are not gap-checked */
#define REC_WIDTH 8          /* doubles per record, see RecordLayout in src/host/procconn.ts */
#define CMDLINE_CAP 8192
#define STATUS_CAP 4096

enum { K_FORK = 1, K_EXEC = 2, K_EXIT = 3, K_UID = 4 };

typedef struct {
  napi_env env;
  napi_ref callback;
  napi_async_context async_ctx;
  uv_poll_t poll;
  int fd;
  int polling;        /* uv_poll started and not yet closed */
  int handle_closed;  /* uv_close callback ran (or handle never initialised) */
  int finalized;      /* JS wrapper collected */
  int cleanup_hook;   /* env cleanup hook registered */
  uint32_t *last_seq;
  uint8_t *seq_seen;
  double *rec;
  size_t rec_cap;
  double lost_total;
  int in_callback;      /* inside the JS callback: close() is deferred until it returns */
  int close_requested;
  /* per connection (not static): worker threads may open their own */
  char dgrams[VLEN][DGRAM_SIZE];
  char cmdline[CMDLINE_CAP + 1];
  char status[STATUS_CAP + 1];
} conn_t;

static void conn_free_if_done(conn_t *c) {
  if (!c->handle_closed || !c->finalized) return;
  free(c->last_seq);
  free(c->seq_seen);
  free(c->rec);
  free(c);
}

static void on_handle_closed(uv_handle_t *h) {
  conn_t *c = (conn_t *)h->data;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->handle_closed = 1;
  conn_free_if_done(c);
}

static void env_cleanup(void *arg);

/* Stops watching and releases the socket and the callback; idempotent. */
static void conn_close(conn_t *c) {
  if (c->cleanup_hook) {
    napi_remove_env_cleanup_hook(c->env, env_cleanup, c);
    c->cleanup_hook = 0;
  }
  if (c->callback) {
    napi_delete_reference(c->env, c->callback);
    c->callback = NULL;
  }
  if (c->async_ctx) {
    napi_async_destroy(c->env, c->async_ctx);
    c->async_ctx = NULL;
  }
  if (c->polling) {
    c->polling = 0;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, on_handle_closed);
  }
}

static void env_cleanup(void *arg) {
  conn_t *c = (conn_t *)arg;
  c->cleanup_hook = 0;
  conn_close(c);
}

static size_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 0;
  size_t got = 0;
  while (got < cap) {
    ssize_t r = read(fd, buf + got, cap - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  close(fd);
  return got;
}

/* Value after "\nKey:\t" in a status buffer, or NULL. */
static const char *status_field(const char *buf, const char *key) {
  const char *p = strstr(buf, key);
  return p ? p + strlen(key) : NULL;
}

static int make_string(napi_env env, napi_value arr, uint32_t *n, const char *s, size_t len) {
  napi_value v;
  if (napi_create_string_utf8(env, s, len, &v) != napi_ok) return -1;
  if (napi_set_element(env, arr, *n, v) != napi_ok) return -1;
  return (int)(*n)++;
}

/* Snapshot of a process at its exec: exe, argv bytes, ppid, euid, CapEff. */
static void snapshot_exec(conn_t *c, napi_value strings, uint32_t *nstr, int pid, double *r) {
  napi_env env = c->env;
  char path[64];
  char *buf = c->cmdline;
  char *status = c->status;

  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  ssize_t n = readlink(path, buf, CMDLINE_CAP);
  r[2] = n > 0 ? make_string(env, strings, nstr, buf, (size_t)n) : -1;

  snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  size_t len = read_small(path, buf, CMDLINE_CAP);
  r[3] = len > 0 ? make_string(env, strings, nstr, buf, len) : -1;

  r[4] = -1;
  r[5] = -1;
  r[6] = -1;
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  len = read_small(path, status, STATUS_CAP);
  status[len] = '\0';
  if (len == 0) return;
  const char *v;
  if ((v = status_field(status, "\nPPid:\t")) != NULL) r[4] = (double)strtol(v, NULL, 10);
  if ((v = status_field(status, "\nUid:\t")) != NULL) {
    char *end;
    strtoul(v, &end, 10); /* real uid */
    r[5] = (double)strtoul(end, NULL, 10); /* effective uid */
  }
  if ((v = status_field(status, "\nCapEff:\t")) != NULL) r[6] = (double)strtoull(v, NULL, 16);
}

static void call_js(conn_t *c, napi_value records, napi_value strings, double lost, double overflows, const char *error) {
  napi_env env = c->env;
  napi_value fn, recv, argv[5], result;
  if (!c->callback || napi_get_reference_value(env, c->callback, &fn) != napi_ok || fn == NULL) return;
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  argv[0] = records;
  argv[1] = strings;
  napi_create_double(env, lost, &argv[2]);
  napi_create_double(env, overflows, &argv[3]);
  if (error) napi_create_string_utf8(env, error, NAPI_AUTO_LENGTH, &argv[4]);
  else napi_get_undefined(env, &argv[4]);
  c->in_callback = 1;
  napi_status st = napi_make_callback(env, c->async_ctx, recv, fn, 5, argv, &result);
  c->in_callback = 0;
  if (st == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  conn_t *c = (conn_t *)h->data;
  if (!c->polling) return;
  napi_env env = c->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;

  napi_value strings;
  napi_create_array(env, &strings);
  uint32_t nstr = 0;
  size_t nrec = 0;
  double lost = 0, overflows = 0;
  const char *error = NULL;
  char errbuf[96];

  if (status < 0) {
    /* libuv reports a pending socket error (POLLERR) as UV_EBADF and stops the handle. For a
       netlink socket that error is ENOBUFS: the receive buffer overflowed. Count it, clear it,
       keep watching; the sequence gaps below count the events that were dropped. */
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && (soerr == ENOBUFS || soerr == 0)) {
      if (soerr == ENOBUFS) overflows++;
      uv_poll_start(&c->poll, UV_READABLE, on_readable);
    } else {
      snprintf(errbuf, sizeof errbuf, "poll: %s (socket error %s)", uv_strerror(status), strerror(soerr));
      error = errbuf;
    }
  }

  struct timespec rt, mono;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  /* kernel timestamps are CLOCK_MONOTONIC nanoseconds */
  double wall_minus_mono_ms = ((double)rt.tv_sec - (double)mono.tv_sec) * 1e3 + ((double)rt.tv_nsec - (double)mono.tv_nsec) / 1e6;

  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  for (int round = 0; !error && round < MAX_ROUNDS; round++) {
    for (int i = 0; i < VLEN; i++) {
      iov[i].iov_base = c->dgrams[i];
      iov[i].iov_len = DGRAM_SIZE;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_len = 0;
    }
    int n = recvmmsg(c->fd, msgs, VLEN, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        overflows++;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      snprintf(errbuf, sizeof errbuf, "recvmmsg: %s", strerror(errno));
      error = errbuf;
      break;
    }
    for (int i = 0; i < n; i++) {
      size_t len = msgs[i].msg_len;
      for (struct nlmsghdr *nlh = (struct nlmsghdr *)c->dgrams[i]; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
        if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_ERROR) continue;
        if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg))) continue;
        struct cn_msg *cn = (struct cn_msg *)NLMSG_DATA(nlh);
        if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
        if (cn->len < offsetof(struct proc_event, event_data) + sizeof(struct exec_proc_event)) continue;
        if (NLMSG_LENGTH(sizeof(struct cn_msg) + cn->len) > nlh->nlmsg_len) continue;
        struct proc_event *ev = (struct proc_event *)cn->data;
        /* Every message, acks of any listener's LISTEN/IGNORE included, takes a number from its CPU's sequence. */
        if (ev->cpu < MAX_CPUS) {
          if (c->seq_seen[ev->cpu]) {
            uint32_t gap = cn->seq - c->last_seq[ev->cpu] - 1;
            if (gap != 0 && gap < 0x80000000u) lost += gap;
          }
          c->seq_seen[ev->cpu] = 1;
          c->last_seq[ev->cpu] = cn->seq;
        }
        if (ev->what == PROC_EVENT_NONE) continue; /* an ack */
        if (nrec + 1 > c->rec_cap / REC_WIDTH) {
          lost++; /* bounded batch: more messages than records (several per datagram) */
          continue;
        }
        double *r = c->rec + nrec * REC_WIDTH;
        for (int k = 0; k < REC_WIDTH; k++) r[k] = 0;
        r[REC_WIDTH - 1] = (double)ev->timestamp_ns / 1e6 + wall_minus_mono_ms;
        switch (ev->what) {
          case PROC_EVENT_FORK:
            if (cn->len < offsetof(struct proc_event, event_data) + sizeof(struct fork_proc_event)) continue;
            if (ev->event_data.fork.child_pid != ev->event_data.fork.child_tgid) continue; /* a thread */
            r[0] = K_FORK;
            r[1] = ev->event_data.fork.child_tgid;
            r[2] = ev->event_data.fork.parent_tgid;
            break;
          case PROC_EVENT_EXEC:
            r[0] = K_EXEC;
            r[1] = ev->event_data.exec.process_tgid;
            snapshot_exec(c, strings, &nstr, ev->event_data.exec.process_tgid, r);
            break;
          case PROC_EVENT_EXIT:
            if (cn->len < offsetof(struct proc_event, event_data) + offsetof(struct exit_proc_event, parent_pid)) continue;
            if (ev->event_data.exit.process_pid != ev->event_data.exit.process_tgid) continue;
            r[0] = K_EXIT;
            r[1] = ev->event_data.exit.process_tgid;
            r[2] = ev->event_data.exit.exit_code;
            r[3] = ev->event_data.exit.exit_signal;
            break;
          case PROC_EVENT_UID:
            if (cn->len < offsetof(struct proc_event, event_data) + sizeof(struct id_proc_event)) continue;
            if (ev->event_data.id.process_pid != ev->event_data.id.process_tgid) continue;
            r[0] = K_UID;
            r[1] = ev->event_data.id.process_tgid;
            r[2] = ev->event_data.id.r.ruid;
            r[3] = ev->event_data.id.e.euid;
            break;
          default:
            continue;
        }
        nrec++;
      }
    }
    if (n < VLEN) break;
  }

  c->lost_total += lost;
  if (nrec > 0 || lost > 0 || overflows > 0 || error) {
    napi_value ab, records;
    void *data;
    size_t bytes = nrec * REC_WIDTH * sizeof(double);
    if (napi_create_arraybuffer(env, bytes, &data, &ab) == napi_ok && napi_create_typedarray(env, napi_float64_array, nrec * REC_WIDTH, ab, 0, &records) == napi_ok) {
      if (bytes > 0) memcpy(data, c->rec, bytes);
      call_js(c, records, strings, lost, overflows, error);
    }
  }
  if ((error || c->close_requested) && c->polling) conn_close(c);
  napi_close_handle_scope(env, scope);
}

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == EPROTONOSUPPORT ? "EPROTONOSUPPORT" : err == ENOENT ? "ENOENT" : "EIO";
  napi_throw_error(env, code, msg);
  return NULL;
}

static void wrapper_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  conn_t *c = (conn_t *)data;
  c->finalized = 1;
  conn_close(c);
  conn_free_if_done(c);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value self;
  void *data = NULL;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  if (napi_unwrap(env, self, &data) == napi_ok && data) {
    conn_t *c = (conn_t *)data;
    if (c->in_callback) c->close_requested = 1;
    else conn_close(c);
  }
  return NULL;
}

static napi_value js_lost(napi_env env, napi_callback_info info) {
  napi_value self, out;
  void *data = NULL;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  double lost = 0;
  if (napi_unwrap(env, self, &data) == napi_ok && data) lost = ((conn_t *)data)->lost_total;
  napi_create_double(env, lost, &out);
  return out;
}

/* open(callback, receiveBufferBytes) -> { close(), lost() } */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "open(callback, rcvbufBytes): callback must be a function");
    return NULL;
  }
  int64_t rcvbuf = 8 << 20;
  if (argc > 1) napi_get_value_int64(env, argv[1], &rcvbuf);
  if (rcvbuf < 65536) rcvbuf = 65536;
  if (rcvbuf > (256 << 20)) rcvbuf = 256 << 20;

  int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd < 0) return throw_errno(env, "socket(NETLINK_CONNECTOR)", errno);
  int rb = (int)rcvbuf;
  /* SO_RCVBUFFORCE (root) lifts the rmem_max cap; fall back to the capped size. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof rb) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);

  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = CN_IDX_PROC;
  sa.nl_pid = 0; /* kernel assigns a unique port id */
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind(CN_IDX_PROC)", err);
  }

  struct {
    struct nlmsghdr nl;
    struct cn_msg cn;
    enum proc_cn_mcast_op op;
  } __attribute__((packed)) req;
  memset(&req, 0, sizeof req);
  req.nl.nlmsg_len = sizeof req;
  req.nl.nlmsg_type = NLMSG_DONE;
  req.nl.nlmsg_pid = 0;
  req.cn.id.idx = CN_IDX_PROC;
  req.cn.id.val = CN_VAL_PROC;
  req.cn.len = sizeof(enum proc_cn_mcast_op);
  req.op = PROC_CN_MCAST_LISTEN;
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "send(PROC_CN_MCAST_LISTEN)", err);
  }

  conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return throw_errno(env, "open", ENOMEM);
  }
  c->env = env;
  c->fd = fd;
  c->handle_closed = 1;
  c->last_seq = calloc(MAX_CPUS, sizeof *c->last_seq);
  c->seq_seen = calloc(MAX_CPUS, 1);
  c->rec_cap = (size_t)VLEN * MAX_ROUNDS * REC_WIDTH;
  c->rec = malloc(c->rec_cap * sizeof(double));
  if (!c->last_seq || !c->seq_seen || !c->rec) {
    close(fd);
    free(c->last_seq);
    free(c->seq_seen);
    free(c->rec);
    free(c);
    return throw_errno(env, "open", ENOMEM);
  }

  napi_value self, fn_close, fn_lost, name;
  napi_create_object(env, &self);
  napi_create_reference(env, argv[0], 1, &c->callback);
  napi_create_string_utf8(env, "sniffwatch:procconn", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, self, name, &c->async_ctx);

  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  if (uv_poll_init(loop, &c->poll, fd) != 0) {
    conn_close(c);
    close(fd);
    free(c->last_seq);
    free(c->seq_seen);
    free(c->rec);
    free(c);
    return throw_errno(env, "uv_poll_init", EIO);
  }
  c->poll.data = c;
  c->handle_closed = 0;
  c->polling = 1;
  uv_poll_start(&c->poll, UV_READABLE, on_readable);
  napi_add_env_cleanup_hook(env, env_cleanup, c);
  c->cleanup_hook = 1;

  napi_create_function(env, "close", NAPI_AUTO_LENGTH, js_close, NULL, &fn_close);
  napi_create_function(env, "lost", NAPI_AUTO_LENGTH, js_lost, NULL, &fn_lost);
  napi_set_named_property(env, self, "close", fn_close);
  napi_set_named_property(env, self, "lost", fn_lost);
  napi_wrap(env, self, c, wrapper_finalize, NULL, NULL);
  return self;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
