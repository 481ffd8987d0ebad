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
// Shutdown: close() sets the stop flag and writes the eventfd; the thread
// leaves its loop and releases the threadsafe function, whose finalizer (on
// the JavaScript thread) joins it and frees the buffers. The connection
// struct itself is freed when both that finalizer and the JS wrapper's have
// run.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VLEN 64             /* datagrams per recvmmsg */
#define DGRAM_SIZE 1024     /* one proc event datagram is ~100 bytes */
#define MAX_CPUS 8192       /* per-CPU sequence tracking; events from higher CPUs are not gap-checked */
#define REC_WIDTH 8         /* doubles per record, see RecordLayout in src/host/procconn.ts */
#define MAX_ANCESTORS 6     /* MAX_ANCESTORS in src/host/process-info.ts */
#define X_ANC 6             /* first ancestor field of an exec's extra row */
#define EXTRA_WIDTH (X_ANC + 3 * MAX_ANCESTORS)
#define EXE_CAP 4096
#define CMDLINE_CAP 32768   /* as readArgv in src/host/procfs.ts */
#define STATUS_CAP 4096
#define STAT_CAP 1024
#define CGROUP_CAP 8192
#define ENVIRON_CAP 65536
#define ENV_VALUE_CAP 512   /* per variable passed on; JavaScript keeps 128 characters */
#define ANC_CMDLINE_CAP 4096
#define ANC_ARGS 8          /* ancestors keep their first arguments only */
#define COMM_CAP 64
#define MAX_ENV_KEYS 64
#define MAX_ENV_KEY 64
#define STRINGS_PER_EVENT (4 + 2 * MAX_ANCESTORS)
#define ANC_CACHE 128       /* ancestors' argv by pid slot; most execs share their parents */
#define MIN_QUEUE_BYTES 65536

enum { K_FORK = 1, K_EXEC = 2, K_EXIT = 3, K_UID = 4 };
/* extra row of an EXEC */
enum { X_TTY = 0, X_NETNS = 1, X_CGROUP = 2, X_ENV = 3, X_NANC = 4, X_NEXT = 5 };

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

/* One event being assembled by the reader thread; strings point into its scratch buffers. */
typedef struct {
  double rec[REC_WIDTH];
  double extra[EXTRA_WIDTH];
  int has_extra;
  struct {
    const char *p;
    size_t len;
    double *dst;
  } s[STRINGS_PER_EVENT];
  int ns;
  size_t bytes;
} stage_t;

/* An ancestor's argv, valid while its pid, start time and image are the same (an EXEC of it, or any lost event, drops it). */
typedef struct {
  int pid;
  unsigned long long start;
  size_t len;
  char cmd[ANC_CMDLINE_CAP];
} anc_entry_t;

typedef struct {
  char exe[EXE_CAP];
  char cmdline[CMDLINE_CAP];
  char status[STATUS_CAP + 1];
  char stat[STAT_CAP + 1];
  char cgroup[CGROUP_CAP];
  char environ[ENVIRON_CAP];
  char envout[ENVIRON_CAP];
  char anc_cmd[MAX_ANCESTORS][ANC_CMDLINE_CAP];
  char anc_comm[MAX_ANCESTORS][COMM_CAP];
  _Alignas(8) char dgrams[VLEN][DGRAM_SIZE]; /* netlink headers are read in place */
  anc_entry_t anc_cache[ANC_CACHE];
} scratch_t;

typedef struct {
  int fd;
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

  /* reader thread only */
  uint32_t *last_seq;
  uint8_t *seq_seen;
  scratch_t *scratch;
  char env_keys[MAX_ENV_KEYS][MAX_ENV_KEY + 1];
  size_t env_key_len[MAX_ENV_KEYS];
  int n_env_keys;
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

/* ---------- /proc reads (reader thread) ---------- */

/* Reads at most cap bytes; -1 when the file cannot be opened or read. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return -1;
  size_t got = 0;
  int failed = 0;
  while (got < cap) {
    ssize_t r = read(fd, buf + got, cap - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      failed = got == 0;
      break;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  close(fd);
  return failed ? -1 : (ssize_t)got;
}

/* Value after "\nKey:\t" in a NUL-terminated status buffer, or NULL. */
static const char *status_field(const char *buf, const char *key) {
  const char *p = strstr(buf, key);
  return p ? p + strlen(key) : NULL;
}

/* /proc/PID/stat: comm (copied, capped), ppid, tty_nr and starttime; comm may contain ") ", so count from the last ')'. */
static int parse_stat(char *text, size_t len, char *comm, long *ppid, long *tty, unsigned long long *start) {
  text[len] = '\0';
  char *open_p = memchr(text, '(', len);
  char *close_p = NULL;
  for (char *p = text + len; p > text; p--)
    if (p[-1] == ')') {
      close_p = p - 1;
      break;
    }
  if (!open_p || !close_p || close_p < open_p || close_p[1] != ' ') return -1;
  size_t n = (size_t)(close_p - open_p - 1);
  if (n >= COMM_CAP) n = COMM_CAP - 1;
  if (comm) {
    memcpy(comm, open_p + 1, n);
    comm[n] = '\0';
  }
  /* state(0) ppid(1) pgrp session tty_nr(4) ... starttime(19) */
  char *p = close_p + 2, *end;
  if (*p == '\0') return -1;
  p++;
  *ppid = strtol(p, &end, 10);
  if (end == p) return -1;
  for (int field = 2; field <= 19; field++) {
    p = end;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p) return -1;
    if (field == 4) *tty = (long)v;
    if (field == 19) *start = v;
  }
  return 0;
}

/* Entries of a NUL-separated environment whose key is wanted, as "K=V\0...", values capped. */
static size_t filter_environ(const conn_t *c, const char *env, size_t len, char *out) {
  size_t o = 0;
  const char *p = env, *end = env + len;
  while (p < end) {
    const char *e = memchr(p, '\0', (size_t)(end - p));
    size_t elen = e ? (size_t)(e - p) : (size_t)(end - p);
    for (int k = 0; k < c->n_env_keys; k++) {
      size_t kl = c->env_key_len[k];
      if (elen > kl && p[kl] == '=' && memcmp(p, c->env_keys[k], kl) == 0) {
        size_t keep = elen - kl - 1 > ENV_VALUE_CAP ? kl + 1 + ENV_VALUE_CAP : elen;
        if (o + keep + 1 > ENVIRON_CAP) return o;
        memcpy(out + o, p, keep);
        o += keep;
        out[o++] = '\0';
        break;
      }
    }
    p += elen + 1;
  }
  return o;
}

/* Byte length of the first `args` NUL-terminated arguments. */
static size_t first_args(const char *buf, size_t len, int args) {
  for (size_t i = 0; i < len; i++)
    if (buf[i] == '\0' && --args == 0) return i + 1;
  return len;
}

static void stage_str(stage_t *st, double *dst, const char *p, size_t len) {
  if (st->ns >= STRINGS_PER_EVENT) {
    *dst = -1;
    return;
  }
  st->s[st->ns].p = p;
  st->s[st->ns].len = len;
  st->s[st->ns].dst = dst;
  st->ns++;
  st->bytes += len;
  *dst = -1; /* set to the batch index on append */
}

/*
 * Snapshot at an exec. The record keeps the layout of earlier versions (exe, argv, ppid,
 * euid, CapEff); the extra row adds tty, network namespace, cgroup, environment and the
 * parent chain. stat is read last: when it is readable the process was alive for every read.
 */
static void snapshot_exec(conn_t *c, int pid, stage_t *st) {
  scratch_t *s = c->scratch;
  double *r = st->rec, *x = st->extra;
  char path[64];
  ssize_t n;

  st->has_extra = 1;
  for (int k = 0; k < EXTRA_WIDTH; k++) x[k] = -1;
  x[X_NANC] = 0;
  x[X_NEXT] = 0;

  snprintf(path, sizeof path, "/proc/%d/exe", pid);
  n = readlink(path, s->exe, EXE_CAP);
  if (n > 0) stage_str(st, &r[2], s->exe, (size_t)n);
  else r[2] = -1;

  snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  n = read_small(path, s->cmdline, CMDLINE_CAP);
  if (n > 0) stage_str(st, &r[3], s->cmdline, (size_t)n);
  else r[3] = -1;

  r[4] = r[5] = r[6] = -1;
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  n = read_small(path, s->status, STATUS_CAP);
  if (n > 0) {
    s->status[n] = '\0';
    const char *v;
    if ((v = status_field(s->status, "\nPPid:\t")) != NULL) r[4] = (double)strtol(v, NULL, 10);
    if ((v = status_field(s->status, "\nUid:\t")) != NULL) {
      char *end;
      strtoul(v, &end, 10);                   /* real uid */
      r[5] = (double)strtoul(end, NULL, 10);  /* effective uid */
    }
    if ((v = status_field(s->status, "\nCapEff:\t")) != NULL) r[6] = (double)strtoull(v, NULL, 16);
  }
  if (st->ns == 0) return; /* neither exe nor argv: gone (or a kernel thread), nothing to add */

  struct stat sb;
  snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
  if (stat(path, &sb) == 0) x[X_NETNS] = (double)sb.st_ino;

  snprintf(path, sizeof path, "/proc/%d/cgroup", pid);
  n = read_small(path, s->cgroup, CGROUP_CAP);
  if (n > 0) stage_str(st, &x[X_CGROUP], s->cgroup, (size_t)n);

  if (c->n_env_keys > 0) {
    snprintf(path, sizeof path, "/proc/%d/environ", pid);
    n = read_small(path, s->environ, ENVIRON_CAP);
    if (n >= 0) stage_str(st, &x[X_ENV], s->envout, filter_environ(c, s->environ, (size_t)n, s->envout));
  }

  long ppid = -1, tty = -1;
  unsigned long long start;
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  n = read_small(path, s->stat, STAT_CAP);
  if (n > 0 && parse_stat(s->stat, (size_t)n, NULL, &ppid, &tty, &start) == 0) x[X_TTY] = (double)tty;
  if (r[4] < 0 && ppid >= 0) r[4] = (double)ppid;

  /* Parent chain while it is alive; where it stops (a parent already gone) JavaScript continues from its process table. */
  long p = r[4] > 0 ? (long)r[4] : 0;
  int na = 0;
  while (na < MAX_ANCESTORS && p > 0) {
    long pp = -1, ptty;
    unsigned long long pstart;
    snprintf(path, sizeof path, "/proc/%ld/stat", p);
    n = read_small(path, s->stat, STAT_CAP);
    if (n <= 0 || parse_stat(s->stat, (size_t)n, s->anc_comm[na], &pp, &ptty, &pstart) < 0) break;
    double *a = &x[X_ANC + 3 * na];
    a[0] = (double)p;
    anc_entry_t *e = &s->anc_cache[p % ANC_CACHE];
    if (e->pid != p || e->start != pstart) {
      snprintf(path, sizeof path, "/proc/%ld/cmdline", p);
      n = read_small(path, e->cmd, ANC_CMDLINE_CAP);
      e->len = n > 0 ? first_args(e->cmd, (size_t)n, ANC_ARGS) : 0;
      e->pid = (int)p;
      e->start = pstart;
    }
    /* copied: a later ancestor in this chain may take the same cache slot */
    memcpy(s->anc_cmd[na], e->cmd, e->len);
    if (e->len > 0) stage_str(st, &a[1], s->anc_cmd[na], e->len);
    stage_str(st, &a[2], s->anc_comm[na], strlen(s->anc_comm[na]));
    na++;
    if (p == 1) {
      p = 0;
      break;
    }
    p = pp;
  }
  x[X_NANC] = na;
  x[X_NEXT] = na < MAX_ANCESTORS && p > 0 ? (double)p : 0;
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
static void publish(conn_t *c, stage_t *st) {
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

/* An EXEC may be among lost events: no cached argv can be trusted after a loss. */
static void forget_ancestors(conn_t *c) {
  for (int i = 0; i < ANC_CACHE; i++) c->scratch->anc_cache[i].pid = 0;
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

/* Parses one datagram's messages into events. Returns the sequence-gap count. */
static double handle_datagram(conn_t *c, const char *dgram, size_t len, double wall_minus_mono_ms) {
  double lost = 0;
  stage_t st;
  for (struct nlmsghdr *nlh = (struct nlmsghdr *)dgram; NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
    if (nlh->nlmsg_type == NLMSG_NOOP || nlh->nlmsg_type == NLMSG_ERROR) continue;
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct cn_msg))) continue;
    struct cn_msg *cn = (struct cn_msg *)NLMSG_DATA(nlh);
    if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
    if (cn->len < offsetof(struct proc_event, event_data) + sizeof(struct exec_proc_event)) continue;
    if (NLMSG_LENGTH(sizeof(struct cn_msg) + cn->len) > nlh->nlmsg_len) continue;
    /* the event sits 36 bytes into the datagram: copy it to an aligned, zeroed struct */
    struct proc_event aligned;
    memset(&aligned, 0, sizeof aligned);
    memcpy(&aligned, cn->data, cn->len < sizeof aligned ? cn->len : sizeof aligned);
    const struct proc_event *ev = &aligned;
    /* Every message, acks of any listener's LISTEN/IGNORE included, takes a number from its CPU's sequence. */
    if (ev->cpu < MAX_CPUS) {
      if (c->seq_seen[ev->cpu]) {
        uint32_t gap = cn->seq - c->last_seq[ev->cpu] - 1;
        if (gap != 0 && gap < 0x80000000u) {
          lost += gap;
          forget_ancestors(c);
        }
      }
      c->seq_seen[ev->cpu] = 1;
      c->last_seq[ev->cpu] = cn->seq;
    }
    if (ev->what == PROC_EVENT_NONE) continue; /* an ack */
    double *r = st.rec;
    for (int k = 0; k < REC_WIDTH; k++) r[k] = 0;
    st.has_extra = 0;
    st.ns = 0;
    st.bytes = 0;
    r[REC_WIDTH - 1] = (double)ev->timestamp_ns / 1e6 + wall_minus_mono_ms;
    switch (ev->what) {
      case PROC_EVENT_FORK:
        if (cn->len < offsetof(struct proc_event, event_data) + sizeof(struct fork_proc_event)) continue;
        if (ev->event_data.fork.child_pid != ev->event_data.fork.child_tgid) continue; /* a thread */
        r[0] = K_FORK;
        r[1] = ev->event_data.fork.child_tgid;
        r[2] = ev->event_data.fork.parent_tgid;
        break;
      case PROC_EVENT_EXEC: {
        int pid = ev->event_data.exec.process_tgid;
        anc_entry_t *e = &c->scratch->anc_cache[(unsigned)pid % ANC_CACHE];
        if (e->pid == pid) e->pid = 0; /* a new image: its argv changed */
        r[0] = K_EXEC;
        r[1] = pid;
        snapshot_exec(c, pid, &st);
        break;
      }
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
    publish(c, &st);
  }
  return lost;
}

static void *reader_main(void *arg) {
  conn_t *c = (conn_t *)arg;
  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  struct pollfd pfd[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = c->wake_fd, .events = POLLIN}};
  char errbuf[160];
  const char *error = NULL;

  while (!stopping(c) && !error) {
    int pr = poll(pfd, 2, -1);
    if (pr < 0) {
      if (errno == EINTR) continue;
      snprintf(errbuf, sizeof errbuf, "poll: %s", strerror(errno));
      error = errbuf;
      break;
    }
    if (pfd[1].revents || stopping(c)) break;
    if (pfd[0].revents & (POLLHUP | POLLNVAL)) {
      snprintf(errbuf, sizeof errbuf, "poll: socket %s", pfd[0].revents & POLLNVAL ? "closed" : "hung up");
      error = errbuf;
      break;
    }
    double lost = 0, overflows = 0;
    /* POLLERR on a netlink socket is ENOBUFS (receive buffer overflow): recvmmsg reports and clears it. */
    while (!stopping(c)) {
      struct timespec rt, mono;
      clock_gettime(CLOCK_REALTIME, &rt);
      clock_gettime(CLOCK_MONOTONIC, &mono);
      /* kernel timestamps are CLOCK_MONOTONIC nanoseconds */
      double wall_minus_mono_ms = ((double)rt.tv_sec - (double)mono.tv_sec) * 1e3 + ((double)rt.tv_nsec - (double)mono.tv_nsec) / 1e6;
      for (int i = 0; i < VLEN; i++) {
        iov[i].iov_base = c->scratch->dgrams[i];
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
          forget_ancestors(c);
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          snprintf(errbuf, sizeof errbuf, "recvmmsg: %s", strerror(errno));
          error = errbuf;
        }
        break;
      }
      for (int i = 0; i < n; i++) lost += handle_datagram(c, c->scratch->dgrams[i], msgs[i].msg_len, wall_minus_mono_ms);
      /* hand over what this round read (publish_counts also wakes JavaScript) */
      publish_counts(c, lost, overflows, NULL);
      lost = overflows = 0;
      if (n < VLEN) break;
    }
    if (lost > 0 || overflows > 0) publish_counts(c, lost, overflows, NULL);
  }
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
  if (c->fd >= 0) close(c->fd);
  if (c->wake_fd >= 0) close(c->wake_fd);
  c->fd = c->wake_fd = -1;
  batch_free(&c->pending);
  batch_free(&c->deliver);
  free(c->last_seq);
  free(c->seq_seen);
  free(c->scratch);
  c->last_seq = NULL;
  c->seq_seen = NULL;
  c->scratch = NULL;
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
  for (uint32_t i = 0; i < n && c->n_env_keys < MAX_ENV_KEYS; i++) {
    napi_value v;
    size_t len = 0;
    char *dst = c->env_keys[c->n_env_keys];
    if (napi_get_element(env, arr, i, &v) != napi_ok) continue;
    if (napi_get_value_string_utf8(env, v, dst, MAX_ENV_KEY + 1, &len) != napi_ok) continue;
    if (len == 0 || len >= MAX_ENV_KEY || strchr(dst, '=')) continue; /* empty, possibly truncated, or not a name */
    c->env_key_len[c->n_env_keys++] = len;
  }
}

/* Subscribes a netlink socket to process events; -errno on failure. */
static int open_socket(int64_t rcvbuf) {
  int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd < 0) return -errno;
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
    return -err;
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
    return -err;
  }
  return fd;
}

/* open(callback, receiveBufferBytes, envKeys?) -> { close(), lost() } */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "open(callback, rcvbufBytes, envKeys): callback must be a function");
    return NULL;
  }
  int64_t rcvbuf = 8 << 20;
  if (argc > 1) napi_get_value_int64(env, argv[1], &rcvbuf);
  if (rcvbuf < MIN_QUEUE_BYTES) rcvbuf = MIN_QUEUE_BYTES;
  if (rcvbuf > (256 << 20)) rcvbuf = 256 << 20;

  int fd = open_socket(rcvbuf);
  if (fd < 0) {
    const char *what = fd == -EPERM || fd == -EACCES ? "subscribe to process events" : "socket(NETLINK_CONNECTOR, CN_IDX_PROC)";
    return throw_errno(env, what, -fd);
  }

  conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return throw_errno(env, "open", ENOMEM);
  }
  c->fd = fd;
  c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  int wake_err = errno;
  c->queue_bytes = (size_t)rcvbuf;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->drained, NULL);
  c->last_seq = calloc(MAX_CPUS, sizeof *c->last_seq);
  c->seq_seen = calloc(MAX_CPUS, 1);
  c->scratch = calloc(1, sizeof *c->scratch);
  if (c->wake_fd < 0 || !c->last_seq || !c->seq_seen || !c->scratch) {
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
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
