// The process-events reader shared by the addon (procconn.c) and the `run`
// launcher (launcher.c): subscribing to the kernel's process-events connector,
// turning its datagrams into events, and the /proc snapshot taken at each exec.
// It also carries events between the two processes (the launcher's pipe to the
// addon) in a framed binary form; both ends are built from this source.
#ifndef SNIFFWATCH_PROCCONN_READER_H
#define SNIFFWATCH_PROCCONN_READER_H

#ifndef _GNU_SOURCE
#error "reader.h needs _GNU_SOURCE defined before any include (struct mmsghdr, recvmmsg)"
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

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

/* One event being assembled; strings point into scratch buffers (or a received frame). */
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
  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  anc_entry_t anc_cache[ANC_CACHE];
} scratch_t;

/* Called for each event; the stage's strings are valid only during the call. */
typedef void (*publish_fn)(void *ctx, stage_t *st);

typedef struct {
  int fd;
  publish_fn publish;
  void *ctx;
  uint32_t *last_seq;
  uint8_t *seq_seen;
  scratch_t *scratch;
  char env_keys[MAX_ENV_KEYS][MAX_ENV_KEY + 1];
  size_t env_key_len[MAX_ENV_KEYS];
  int n_env_keys;
} reader_t;

/* Allocates the reader's tables; 0, or -errno. */
int reader_init(reader_t *r, int fd, publish_fn publish, void *ctx);
void reader_free(reader_t *r);
/* Adds an environment variable whose value each exec snapshot copies; ignores what is not a name. */
void reader_add_env_key(reader_t *r, const char *name, size_t len);

/* A netlink socket subscribed to process events (non-blocking, close-on-exec), or -errno. */
int procconn_open_socket(int64_t rcvbuf);

/*
 * One recvmmsg on the socket, each event published. Returns the datagrams read (VLEN: call
 * again), 0 when the socket is drained, or -1 with errbuf set. Sequence gaps add to *lost,
 * receive-buffer overflows to *overflows.
 */
int reader_round(reader_t *r, double *lost, double *overflows, char *errbuf, size_t errlen);

/* ---------- frames on the launcher's pipe ---------- */

/* type byte after the 4-byte little-endian length of the rest */
enum { FRAME_EVENT = 'E', FRAME_COUNTS = 'C', FRAME_ERROR = 'X' };
#define FRAME_MAX (8 + 1 + (REC_WIDTH + EXTRA_WIDTH) * 8 + 1 + 1 + STRINGS_PER_EVENT * 5 + CMDLINE_CAP + EXE_CAP + CGROUP_CAP + ENVIRON_CAP + MAX_ANCESTORS * (ANC_CMDLINE_CAP + COMM_CAP))

/* Bytes frame_event writes for a stage (at most FRAME_MAX). */
size_t frame_event_size(const stage_t *st);
/* Writes a stage as a frame into out (frame_event_size bytes). */
void frame_event(const stage_t *st, char *out);
/* Writes a counts frame (21 bytes) or an error frame (5 + strlen, capped at 159 bytes of text). */
size_t frame_counts(double lost, double overflows, char *out);
size_t frame_error(const char *text, char *out);
/*
 * Length of the first complete frame in buf (0: incomplete, -1: malformed). For an event frame,
 * fills st with its strings pointing into buf; for counts, *lost and *overflows; for an error,
 * errbuf.
 */
ssize_t frame_parse(const char *buf, size_t len, int *type, stage_t *st, double *lost, double *overflows, char *errbuf, size_t errlen);

#endif
