// See reader.h.
#define _GNU_SOURCE
#include "reader.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int reader_init(reader_t *r, int fd, publish_fn publish, void *ctx) {
  memset(r, 0, sizeof *r);
  r->fd = fd;
  r->publish = publish;
  r->ctx = ctx;
  r->last_seq = calloc(MAX_CPUS, sizeof *r->last_seq);
  r->seq_seen = calloc(MAX_CPUS, 1);
  r->scratch = calloc(1, sizeof *r->scratch);
  if (!r->last_seq || !r->seq_seen || !r->scratch) {
    reader_free(r);
    return -ENOMEM;
  }
  return 0;
}

void reader_free(reader_t *r) {
  free(r->last_seq);
  free(r->seq_seen);
  free(r->scratch);
  r->last_seq = NULL;
  r->seq_seen = NULL;
  r->scratch = NULL;
}

void reader_add_env_key(reader_t *r, const char *name, size_t len) {
  if (r->n_env_keys >= MAX_ENV_KEYS || len == 0 || len >= MAX_ENV_KEY || memchr(name, '=', len) || memchr(name, '\0', len)) return; /* empty, possibly truncated, or not a name */
  memcpy(r->env_keys[r->n_env_keys], name, len);
  r->env_keys[r->n_env_keys][len] = '\0';
  r->env_key_len[r->n_env_keys++] = len;
}

/* ---------- /proc reads ---------- */

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
static size_t filter_environ(const reader_t *c, const char *env, size_t len, char *out) {
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
static void snapshot_exec(reader_t *c, int pid, stage_t *st) {
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

/* An EXEC may be among lost events: no cached argv can be trusted after a loss. */
static void forget_ancestors(reader_t *c) {
  for (int i = 0; i < ANC_CACHE; i++) c->scratch->anc_cache[i].pid = 0;
}

/* Parses one datagram's messages into events. Returns the sequence-gap count. */
static double handle_datagram(reader_t *c, const char *dgram, size_t len, double wall_minus_mono_ms) {
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
    c->publish(c->ctx, &st);
  }
  return lost;
}


int reader_round(reader_t *c, double *lost, double *overflows, char *errbuf, size_t errlen) {
  struct timespec rt, mono;
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  /* kernel timestamps are CLOCK_MONOTONIC nanoseconds */
  double wall_minus_mono_ms = ((double)rt.tv_sec - (double)mono.tv_sec) * 1e3 + ((double)rt.tv_nsec - (double)mono.tv_nsec) / 1e6;
  scratch_t *s = c->scratch;
  for (int i = 0; i < VLEN; i++) {
    s->iov[i].iov_base = s->dgrams[i];
    s->iov[i].iov_len = DGRAM_SIZE;
    memset(&s->msgs[i].msg_hdr, 0, sizeof s->msgs[i].msg_hdr);
    s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
    s->msgs[i].msg_hdr.msg_iovlen = 1;
    s->msgs[i].msg_len = 0;
  }
  /* POLLERR on a netlink socket is ENOBUFS (receive buffer overflow): recvmmsg reports and clears it. */
  int n = recvmmsg(c->fd, s->msgs, VLEN, MSG_DONTWAIT, NULL);
  if (n < 0) {
    if (errno == EINTR) return VLEN;
    if (errno == ENOBUFS) {
      (*overflows)++;
      forget_ancestors(c);
      return VLEN;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    snprintf(errbuf, errlen, "recvmmsg: %s", strerror(errno));
    return -1;
  }
  for (int i = 0; i < n; i++) *lost += handle_datagram(c, s->dgrams[i], s->msgs[i].msg_len, wall_minus_mono_ms);
  return n;
}

/* Subscribes a netlink socket to process events; -errno on failure. */
int procconn_open_socket(int64_t rcvbuf) {
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


/* ---------- frames ---------- */

static char *put(char *o, const void *p, size_t n) {
  memcpy(o, p, n);
  return o + n;
}

static void put_header(char *out, size_t total, int type) {
  uint32_t len = (uint32_t)(total - 4);
  memcpy(out, &len, 4);
  out[4] = (char)type;
}

size_t frame_event_size(const stage_t *st) {
  return 4 + 1 + sizeof st->rec + 1 + (st->has_extra ? sizeof st->extra : 0) + 1 + (size_t)st->ns * 5 + st->bytes;
}

void frame_event(const stage_t *st, char *out) {
  size_t total = frame_event_size(st);
  put_header(out, total, FRAME_EVENT);
  char *o = put(out + 5, st->rec, sizeof st->rec);
  *o++ = (char)(st->has_extra ? 1 : 0);
  if (st->has_extra) o = put(o, st->extra, sizeof st->extra);
  *o++ = (char)st->ns;
  for (int i = 0; i < st->ns; i++) {
    const double *dst = st->s[i].dst;
    uint8_t field = dst >= st->rec && dst < st->rec + REC_WIDTH ? (uint8_t)(dst - st->rec) : (uint8_t)(REC_WIDTH + (dst - st->extra));
    uint32_t len = (uint32_t)st->s[i].len;
    *o++ = (char)field;
    o = put(o, &len, 4);
    o = put(o, st->s[i].p, st->s[i].len);
  }
}

size_t frame_counts(double lost, double overflows, char *out) {
  put_header(out, 21, FRAME_COUNTS);
  put(put(out + 5, &lost, 8), &overflows, 8);
  return 21;
}

size_t frame_error(const char *text, char *out) {
  size_t n = strnlen(text, 159);
  put_header(out, 5 + n, FRAME_ERROR);
  memcpy(out + 5, text, n);
  return 5 + n;
}

ssize_t frame_parse(const char *buf, size_t len, int *type, stage_t *st, double *lost, double *overflows, char *errbuf, size_t errlen) {
  if (len < 5) return 0;
  uint32_t body;
  memcpy(&body, buf, 4);
  if (body < 1 || body > FRAME_MAX) return -1;
  if (len < 4 + (size_t)body) return 0;
  const char *p = buf + 5, *end = buf + 4 + body;
  *type = (unsigned char)buf[4];
  switch (*type) {
    case FRAME_COUNTS:
      if (end - p != 16) return -1;
      memcpy(lost, p, 8);
      memcpy(overflows, p + 8, 8);
      break;
    case FRAME_ERROR: {
      size_t n = (size_t)(end - p) < errlen - 1 ? (size_t)(end - p) : errlen - 1;
      memcpy(errbuf, p, n);
      errbuf[n] = '\0';
      break;
    }
    case FRAME_EVENT: {
      if ((size_t)(end - p) < sizeof st->rec + 2) return -1;
      memcpy(st->rec, p, sizeof st->rec);
      p += sizeof st->rec;
      st->has_extra = *p++;
      if (st->has_extra != 0 && st->has_extra != 1) return -1;
      if (st->has_extra) {
        if ((size_t)(end - p) < sizeof st->extra + 1) return -1;
        memcpy(st->extra, p, sizeof st->extra);
        p += sizeof st->extra;
      }
      if (p >= end) return -1;
      st->ns = (unsigned char)*p++;
      st->bytes = 0;
      if (st->ns > STRINGS_PER_EVENT) return -1;
      int fields = REC_WIDTH + (st->has_extra ? EXTRA_WIDTH : 0);
      for (int i = 0; i < st->ns; i++) {
        if (end - p < 5) return -1;
        int field = (unsigned char)p[0];
        uint32_t n;
        memcpy(&n, p + 1, 4);
        p += 5;
        if (field >= fields || n > (size_t)(end - p)) return -1;
        st->s[i].p = p;
        st->s[i].len = n;
        st->s[i].dst = field < REC_WIDTH ? &st->rec[field] : &st->extra[field - REC_WIDTH];
        st->bytes += n;
        p += n;
      }
      if (p != end) return -1;
      break;
    }
    default:
      return -1;
  }
  return (ssize_t)(4 + body);
}
