// Live capture for sniffwatch: a thin N-API wrapper around libpcap.
//
// One PcapHandle per interface. Packets are copied in batches into ONE
// JS-owned Buffer that the caller reuses (no per-packet JS allocation):
//
//   [ header records: maxPackets x 5 uint32 (native byte order) | data area ]
//   record i = { ts_sec, ts_nsec, caplen, origlen, data_offset }
//
// Wake-ups come from a libuv poll on pcap's selectable fd, on the main loop:
// the JS callback runs only when the kernel has packets (or an error) for us,
// so nothing spins and nothing blocks the event loop. With `immediate` the
// kernel wakes us per packet (TPACKET_V2); without it packets are packed into
// TPACKET_V3 blocks handed over at the latest after `timeoutMs` (far more
// packets fit the same buffer). Every libpcap error
// becomes a JS exception carrying pcap's own text and a `code`; nothing here
// aborts the process.

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <node_api.h>
#include <pcap/pcap.h>
#include <uv.h>

#define HEADER_WORDS 5
#define HEADER_BYTES (HEADER_WORDS * 4)
#define DEFAULT_SNAPLEN 262144
#define DEFAULT_BUFFER_BYTES (8 * 1024 * 1024)

typedef struct {
  pcap_t *pcap;
  napi_env env;
  uv_poll_t *poll;
  napi_ref callback;
  napi_async_context async;
  int snaplen;
  int nano;
  int datalink;
  int fd;
  char warning[PCAP_ERRBUF_SIZE + 64];
} Handle;

// State of one dispatch() call, handed to the pcap callback.
typedef struct {
  pcap_t *pcap;
  uint8_t *buf;
  uint32_t *hdr;
  size_t pos;
  size_t end;
  size_t count;
  size_t max;
  size_t snaplen;
  int nano;
} Batch;

// ---- errors -----------------------------------------------------------------

static void throw_coded(napi_env env, const char *code, const char *message) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  napi_value err, msg, codev;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &codev) != napi_ok) return;
  if (napi_create_error(env, codev, msg, &err) != napi_ok) return;
  napi_throw(env, err);
}

static const char *status_code_name(int status) {
  switch (status) {
    case PCAP_ERROR_BREAK: return "PCAP_ERROR_BREAK";
    case PCAP_ERROR_NOT_ACTIVATED: return "PCAP_ERROR_NOT_ACTIVATED";
    case PCAP_ERROR_ACTIVATED: return "PCAP_ERROR_ACTIVATED";
    case PCAP_ERROR_NO_SUCH_DEVICE: return "PCAP_ERROR_NO_SUCH_DEVICE";
    case PCAP_ERROR_RFMON_NOTSUP: return "PCAP_ERROR_RFMON_NOTSUP";
    case PCAP_ERROR_NOT_RFMON: return "PCAP_ERROR_NOT_RFMON";
    case PCAP_ERROR_PERM_DENIED: return "PCAP_ERROR_PERM_DENIED";
    case PCAP_ERROR_IFACE_NOT_UP: return "PCAP_ERROR_IFACE_NOT_UP";
    case PCAP_ERROR_CANTSET_TSTAMP_TYPE: return "PCAP_ERROR_CANTSET_TSTAMP_TYPE";
    case PCAP_ERROR_PROMISC_PERM_DENIED: return "PCAP_ERROR_PROMISC_PERM_DENIED";
    case PCAP_ERROR_TSTAMP_PRECISION_NOTSUP: return "PCAP_ERROR_TSTAMP_PRECISION_NOTSUP";
    default: return "PCAP_ERROR";
  }
}

// "<device>: <status text>: <pcap detail>", the detail only when pcap has one.
static void throw_activate_error(napi_env env, pcap_t *p, const char *device, int status) {
  char message[PCAP_ERRBUF_SIZE * 2 + 256];
  const char *detail = pcap_geterr(p);
  const char *what = pcap_statustostr(status);
  if (detail != NULL && detail[0] != '\0' && strcmp(detail, what) != 0) {
    snprintf(message, sizeof message, "%s: %s: %s", device, what, detail);
  } else {
    snprintf(message, sizeof message, "%s: %s", device, what);
  }
  throw_coded(env, status_code_name(status), message);
}

#define CHECK_NAPI(env, call)                                     \
  do {                                                            \
    if ((call) != napi_ok) {                                      \
      throw_coded((env), "ERR_NAPI", "N-API call failed: " #call); \
      return NULL;                                                \
    }                                                             \
  } while (0)

// ---- argument helpers ---------------------------------------------------------

static int get_string(napi_env env, napi_value v, char *out, size_t cap, const char *what) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a string", what);
    throw_coded(env, "ERR_INVALID_ARG_TYPE", m);
    return 0;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok || len + 1 > cap) {
    char m[128];
    snprintf(m, sizeof m, "%s is too long", what);
    throw_coded(env, "ERR_INVALID_ARG_VALUE", m);
    return 0;
  }
  napi_get_value_string_utf8(env, v, out, cap, &len);
  return 1;
}

// Optional property of an options object; returns 1 when present and of the right type.
static int opt_int(napi_env env, napi_value obj, const char *key, int64_t *out) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) return 0;
  return napi_get_value_int64(env, v, out) == napi_ok;
}

static int opt_bool(napi_env env, napi_value obj, const char *key, bool *out) {
  bool has = false;
  napi_value v;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean) return 0;
  return napi_get_value_bool(env, v, out) == napi_ok;
}

// A string argument as a malloc'ed copy (caller frees), or NULL with a JS exception thrown.
static char *alloc_string(napi_env env, napi_value v, const char *what) {
  napi_valuetype t;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string || napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a string", what);
    throw_coded(env, "ERR_INVALID_ARG_TYPE", m);
    return NULL;
  }
  if (len > 1u << 20) {
    char m[128];
    snprintf(m, sizeof m, "%s is too long", what);
    throw_coded(env, "ERR_INVALID_ARG_VALUE", m);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) {
    throw_coded(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static Handle *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  Handle *h = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok) return NULL;
  if (napi_unwrap(env, self, (void **)&h) != napi_ok || h == NULL) {
    throw_coded(env, "ERR_INVALID_THIS", "not a PcapHandle");
    return NULL;
  }
  return h;
}

static Handle *unwrap_open(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  Handle *h = unwrap(env, info, argc, argv);
  if (h != NULL && h->pcap == NULL) {
    throw_coded(env, "ERR_PCAP_CLOSED", "capture handle is closed");
    return NULL;
  }
  return h;
}

// ---- polling ------------------------------------------------------------------

static void free_poll(uv_handle_t *p) {
  free(p);
}

static void stop_polling(Handle *h) {
  if (h->poll != NULL) {
    // uv_close stops the poll and removes the fd from epoll before pcap closes it.
    uv_close((uv_handle_t *)h->poll, free_poll);
    h->poll = NULL;
  }
  if (h->callback != NULL) {
    napi_delete_reference(h->env, h->callback);
    h->callback = NULL;
  }
  if (h->async != NULL) {
    napi_async_destroy(h->env, h->async);
    h->async = NULL;
  }
}

static void close_handle(Handle *h) {
  stop_polling(h);
  if (h->pcap != NULL) {
    pcap_close(h->pcap);
    h->pcap = NULL;
  }
}

// Runs on the main loop when the fd is readable (status 0) or failed (status < 0,
// e.g. the interface went down: the poll is then stopped by libuv).
static void on_readable(uv_poll_t *p, int status, int events) {
  (void)events;
  Handle *h = p->data;
  if (h == NULL || h->callback == NULL) return;
  napi_env env = h->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  if (napi_get_reference_value(env, h->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &recv) == napi_ok && napi_create_int32(env, status, &arg) == napi_ok) {
    napi_status s = napi_make_callback(env, h->async, recv, cb, 1, &arg, &result);
    if (s == napi_pending_exception) {
      // The JS side catches its own errors; if one escapes, it becomes an
      // ordinary uncaught exception instead of being lost.
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

// ---- PcapHandle -----------------------------------------------------------------

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Handle *h = data;
  close_handle(h);
  free(h);
}

// new PcapHandle(device, { snaplen, promisc, bufferSize, immediate, timeoutMs }): an activated, non-blocking capture.
static napi_value handle_new(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL));
  char device[256];
  if (argc < 1 || !get_string(env, argv[0], device, sizeof device, "device")) return NULL;
  napi_value opts = NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &t);
  if (t == napi_object) opts = argv[1];

  int64_t snaplen = DEFAULT_SNAPLEN, buffer = DEFAULT_BUFFER_BYTES;
  bool promisc = true, immediate = true;
  int64_t timeout_ms = 1;
  if (opts != NULL) {
    opt_int(env, opts, "snaplen", &snaplen);
    opt_int(env, opts, "bufferSize", &buffer);
    opt_bool(env, opts, "promisc", &promisc);
    opt_bool(env, opts, "immediate", &immediate);
    opt_int(env, opts, "timeoutMs", &timeout_ms);
  }
  if (snaplen < 64 || snaplen > DEFAULT_SNAPLEN) snaplen = DEFAULT_SNAPLEN;
  if (buffer < 65536 || buffer > (int64_t)1 << 30) buffer = DEFAULT_BUFFER_BYTES;

  char errbuf[PCAP_ERRBUF_SIZE];
  errbuf[0] = '\0';
  pcap_t *p = pcap_create(device, errbuf);
  if (p == NULL) {
    char m[PCAP_ERRBUF_SIZE + 300];
    snprintf(m, sizeof m, "%s: %s", device, errbuf);
    throw_coded(env, "PCAP_ERROR", m);
    return NULL;
  }
  pcap_set_snaplen(p, (int)snaplen);
  pcap_set_promisc(p, promisc ? 1 : 0);
  pcap_set_immediate_mode(p, immediate ? 1 : 0);
  // Without immediate mode, Linux uses TPACKET_V3 blocks retired after this timeout.
  if (timeout_ms < 1 || timeout_ms > 10000) timeout_ms = 1;
  pcap_set_timeout(p, (int)timeout_ms);
  pcap_set_buffer_size(p, (int)buffer);
  int nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
  int status = pcap_activate(p);
  if (status < 0) {
    throw_activate_error(env, p, device, status);
    pcap_close(p);
    return NULL;
  }
  Handle *h = calloc(1, sizeof *h);
  if (h == NULL) {
    pcap_close(p);
    throw_coded(env, "ENOMEM", "out of memory");
    return NULL;
  }
  h->pcap = p;
  h->env = env;
  h->snaplen = pcap_snapshot(p);
  h->nano = nano && pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
  h->datalink = pcap_datalink(p);
  if (status > 0) snprintf(h->warning, sizeof h->warning, "%s: %s: %s", device, pcap_statustostr(status), pcap_geterr(p));

  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    char m[PCAP_ERRBUF_SIZE + 300];
    snprintf(m, sizeof m, "%s: cannot set non-blocking mode: %s", device, errbuf);
    close_handle(h);
    free(h);
    throw_coded(env, "PCAP_ERROR", m);
    return NULL;
  }
  h->fd = pcap_get_selectable_fd(p);
  if (h->fd < 0) {
    char m[300];
    snprintf(m, sizeof m, "%s: capture has no selectable file descriptor", device);
    close_handle(h);
    free(h);
    throw_coded(env, "PCAP_ERROR", m);
    return NULL;
  }
  if (napi_wrap(env, self, h, finalize_handle, NULL, NULL) != napi_ok) {
    close_handle(h);
    free(h);
    throw_coded(env, "ERR_NAPI", "cannot wrap capture handle");
    return NULL;
  }
  return self;
}

// Throws PCAP_ERROR_FILTER: `what` and pcap's own message for handle p.
static void throw_filter_error(napi_env env, pcap_t *p, const char *what) {
  char m[PCAP_ERRBUF_SIZE + 64];
  snprintf(m, sizeof m, "%s: %s", what, pcap_geterr(p));
  throw_coded(env, "PCAP_ERROR_FILTER", m);
}

// Compiles the filter expression (a JS string) for handle p into *prog; false after throwing.
static bool compile_filter_arg(napi_env env, pcap_t *p, napi_value filter_arg, struct bpf_program *prog) {
  char *filter = alloc_string(env, filter_arg, "filter");
  if (filter == NULL) return false;
  int rc = pcap_compile(p, prog, filter, 1, PCAP_NETMASK_UNKNOWN);
  free(filter);
  if (rc != 0) {
    throw_filter_error(env, p, "cannot compile capture filter");
    return false;
  }
  return true;
}

// The filter compiled into *prog for a dead handle of the link type and snaplen, which is returned (pcap_freecode
// the program, then pcap_close the handle); NULL after throwing.
static pcap_t *compile_dead(napi_env env, napi_value filter_arg, int linktype, int snaplen, struct bpf_program *prog) {
  pcap_t *p = pcap_open_dead(linktype, snaplen);
  if (p == NULL) {
    throw_coded(env, "PCAP_ERROR", "pcap_open_dead failed");
    return NULL;
  }
  if (!compile_filter_arg(env, p, filter_arg, prog)) {
    pcap_close(p);
    return NULL;
  }
  return p;
}

// setFilter(filter): compiles the BPF expression for this handle's link type and installs it in the kernel.
static napi_value handle_set_filter(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  if (argc < 1) {
    throw_coded(env, "ERR_INVALID_ARG_TYPE", "setFilter(filter): filter must be a string");
    return NULL;
  }
  struct bpf_program prog;
  if (!compile_filter_arg(env, h->pcap, argv[0], &prog)) return NULL;
  int rc = pcap_setfilter(h->pcap, &prog);
  pcap_freecode(&prog);
  if (rc != 0) throw_filter_error(env, h->pcap, "cannot set capture filter");
  return NULL;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *ph, const u_char *bytes) {
  Batch *b = (Batch *)user;
  size_t caplen = ph->caplen;
  // dispatch() guarantees a snaplen of room; the clamp only guards against a
  // caplen larger than the snaplen we asked for.
  if (caplen > b->end - b->pos) caplen = b->end - b->pos;
  uint32_t *rec = b->hdr + b->count * HEADER_WORDS;
  rec[0] = (uint32_t)ph->ts.tv_sec;
  rec[1] = b->nano ? (uint32_t)ph->ts.tv_usec : (uint32_t)ph->ts.tv_usec * 1000u;
  rec[2] = (uint32_t)caplen;
  rec[3] = (uint32_t)ph->len;
  rec[4] = (uint32_t)b->pos;
  memcpy(b->buf + b->pos, bytes, caplen);
  b->pos += caplen;
  b->count++;
  // Stop the batch before a packet could fail to fit; the rest stays in the kernel ring.
  if (b->count >= b->max || b->end - b->pos < b->snaplen) pcap_breakloop(b->pcap);
}

// dispatch(buffer, maxPackets) -> number of packets copied into buffer.
static napi_value handle_dispatch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  Handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  void *data = NULL;
  size_t len = 0;
  bool isbuf = false;
  if (argc < 2 || napi_is_buffer(env, argv[0], &isbuf) != napi_ok || !isbuf ||
      napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
    throw_coded(env, "ERR_INVALID_ARG_TYPE", "dispatch(buffer, maxPackets): buffer must be a Buffer");
    return NULL;
  }
  int64_t max = 0;
  if (napi_get_value_int64(env, argv[1], &max) != napi_ok || max < 1 || max > 1000000) {
    throw_coded(env, "ERR_INVALID_ARG_VALUE", "dispatch(buffer, maxPackets): maxPackets must be 1..1000000");
    return NULL;
  }
  if (((uintptr_t)data & 3u) != 0) {
    throw_coded(env, "ERR_INVALID_ARG_VALUE", "dispatch: buffer must be 4-byte aligned");
    return NULL;
  }
  size_t data_start = ((size_t)max * HEADER_BYTES + 7u) & ~(size_t)7u;
  if (len < data_start + (size_t)h->snaplen) {
    throw_coded(env, "ERR_BUFFER_TOO_SMALL", "dispatch: buffer must hold the headers plus one snaplen of data");
    return NULL;
  }
  Batch b = {
      .pcap = h->pcap,
      .buf = data,
      .hdr = data,
      .pos = data_start,
      .end = len,
      .count = 0,
      .max = (size_t)max,
      .snaplen = (size_t)h->snaplen,
      .nano = h->nano,
  };
  int rc = pcap_dispatch(h->pcap, (int)max, on_packet, (u_char *)&b);
  if (rc == PCAP_ERROR) {
    throw_coded(env, "PCAP_ERROR_READ", pcap_geterr(h->pcap));
    return NULL;
  }
  napi_value out;
  CHECK_NAPI(env, napi_create_uint32(env, (uint32_t)b.count, &out));
  return out;
}

static int set_u32(napi_env env, napi_value obj, const char *key, uint32_t v) {
  napi_value n;
  return napi_create_uint32(env, v, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

static int set_i32(napi_env env, napi_value obj, const char *key, int32_t v) {
  napi_value n;
  return napi_create_int32(env, v, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

static int set_bool(napi_env env, napi_value obj, const char *key, bool v) {
  napi_value n;
  return napi_get_boolean(env, v, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

static int set_str(napi_env env, napi_value obj, const char *key, const char *v) {
  napi_value n;
  if (v == NULL) return napi_get_null(env, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
  return napi_create_string_utf8(env, v, NAPI_AUTO_LENGTH, &n) == napi_ok && napi_set_named_property(env, obj, key, n) == napi_ok;
}

// stats() -> { received, dropped, ifdropped }: libpcap's 32-bit counters since open.
static napi_value handle_stats(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Handle *h = unwrap_open(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  struct pcap_stat st;
  memset(&st, 0, sizeof st);
  if (pcap_stats(h->pcap, &st) != 0) {
    throw_coded(env, "PCAP_ERROR_STATS", pcap_geterr(h->pcap));
    return NULL;
  }
  napi_value out;
  CHECK_NAPI(env, napi_create_object(env, &out));
  set_u32(env, out, "received", st.ps_recv);
  set_u32(env, out, "dropped", st.ps_drop);
  set_u32(env, out, "ifdropped", st.ps_ifdrop);
  return out;
}

// info() -> { datalink, datalinkName, fd, snaplen, nanoTimestamps, warning }
static napi_value handle_info(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Handle *h = unwrap_open(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  napi_value out;
  CHECK_NAPI(env, napi_create_object(env, &out));
  set_i32(env, out, "datalink", h->datalink);
  set_str(env, out, "datalinkName", pcap_datalink_val_to_name(h->datalink));
  set_i32(env, out, "fd", h->fd);
  set_i32(env, out, "snaplen", h->snaplen);
  set_bool(env, out, "nanoTimestamps", h->nano != 0);
  set_str(env, out, "warning", h->warning[0] != '\0' ? h->warning : NULL);
  return out;
}

static napi_value handle_datalink(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Handle *h = unwrap_open(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  napi_value out;
  CHECK_NAPI(env, napi_create_int32(env, h->datalink, &out));
  return out;
}

// poll(callback): calls callback(status) on the main loop whenever the fd is
// readable (status 0) or failed (status < 0, a libuv error code; polling stops).
static napi_value handle_poll(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  Handle *h = unwrap_open(env, info, &argc, argv);
  if (h == NULL) return NULL;
  napi_valuetype t = napi_undefined;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    throw_coded(env, "ERR_INVALID_ARG_TYPE", "poll(callback): callback must be a function");
    return NULL;
  }
  stop_polling(h);
  uv_loop_t *loop = NULL;
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));
  napi_value name;
  CHECK_NAPI(env, napi_create_string_utf8(env, "sniffwatch:pcap", NAPI_AUTO_LENGTH, &name));
  CHECK_NAPI(env, napi_async_init(env, NULL, name, &h->async));
  CHECK_NAPI(env, napi_create_reference(env, argv[0], 1, &h->callback));
  uv_poll_t *p = calloc(1, sizeof *p);
  if (p == NULL) {
    stop_polling(h);
    throw_coded(env, "ENOMEM", "out of memory");
    return NULL;
  }
  int rc = uv_poll_init(loop, p, h->fd);
  if (rc != 0) {
    free(p);
    stop_polling(h);
    throw_coded(env, "ERR_UV_POLL", uv_strerror(rc));
    return NULL;
  }
  p->data = h;
  h->poll = p;
  rc = uv_poll_start(p, UV_READABLE, on_readable);
  if (rc != 0) {
    stop_polling(h);
    throw_coded(env, "ERR_UV_POLL", uv_strerror(rc));
    return NULL;
  }
  return NULL;
}

static napi_value handle_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  Handle *h = unwrap(env, info, &argc, NULL);
  if (h == NULL) return NULL;
  close_handle(h);
  return NULL;
}

// ---- module functions --------------------------------------------------------------

// findAllDevs() -> [{ name, description, loopback, up, running, wireless }]
static napi_value find_all_devs(napi_env env, napi_callback_info info) {
  (void)info;
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_if_t *devs = NULL;
  if (pcap_findalldevs(&devs, errbuf) != 0) {
    throw_coded(env, "PCAP_ERROR", errbuf);
    return NULL;
  }
  napi_value arr;
  if (napi_create_array(env, &arr) != napi_ok) {
    pcap_freealldevs(devs);
    return NULL;
  }
  uint32_t i = 0;
  for (pcap_if_t *d = devs; d != NULL && i < 4096; d = d->next, i++) {
    napi_value o;
    if (napi_create_object(env, &o) != napi_ok) break;
    set_str(env, o, "name", d->name);
    set_str(env, o, "description", d->description);
    set_bool(env, o, "loopback", (d->flags & PCAP_IF_LOOPBACK) != 0);
    set_bool(env, o, "up", (d->flags & PCAP_IF_UP) != 0);
    set_bool(env, o, "running", (d->flags & PCAP_IF_RUNNING) != 0);
    set_bool(env, o, "wireless", (d->flags & PCAP_IF_WIRELESS) != 0);
    napi_set_element(env, arr, i, o);
  }
  pcap_freealldevs(devs);
  return arr;
}

// compileFilter(filter, linktype = 1, snaplen = 262144) -> BPF instruction count; throws with pcap's message.
static napi_value compile_filter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) {
    throw_coded(env, "ERR_INVALID_ARG_TYPE", "compileFilter(filter): filter must be a string");
    return NULL;
  }
  int32_t linktype = DLT_EN10MB, snaplen = DEFAULT_SNAPLEN;
  if (argc >= 2) napi_get_value_int32(env, argv[1], &linktype);
  if (argc >= 3) napi_get_value_int32(env, argv[2], &snaplen);
  struct bpf_program prog;
  pcap_t *p = compile_dead(env, argv[0], linktype, snaplen, &prog);
  if (p == NULL) return NULL;
  uint32_t n = prog.bf_len;
  pcap_freecode(&prog);
  pcap_close(p);
  napi_value out;
  CHECK_NAPI(env, napi_create_uint32(env, n, &out));
  return out;
}

// offlineFilter(filter, linktype, packet) -> whether the compiled filter accepts the packet (tests, diagnostics).
static napi_value offline_filter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  void *data = NULL;
  size_t len = 0;
  bool isbuf = false;
  int32_t linktype = DLT_EN10MB;
  if (argc < 3 || napi_get_value_int32(env, argv[1], &linktype) != napi_ok || napi_is_buffer(env, argv[2], &isbuf) != napi_ok || !isbuf ||
      napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok || len > DEFAULT_SNAPLEN) {
    throw_coded(env, "ERR_INVALID_ARG_TYPE", "offlineFilter(filter, linktype, packet): packet must be a Buffer of at most 262144 bytes");
    return NULL;
  }
  struct bpf_program prog;
  pcap_t *p = compile_dead(env, argv[0], linktype, DEFAULT_SNAPLEN, &prog);
  if (p == NULL) return NULL;
  struct pcap_pkthdr ph;
  memset(&ph, 0, sizeof ph);
  ph.caplen = (bpf_u_int32)len;
  ph.len = (bpf_u_int32)len;
  int match = pcap_offline_filter(&prog, &ph, data);
  pcap_freecode(&prog);
  pcap_close(p);
  napi_value out;
  CHECK_NAPI(env, napi_get_boolean(env, match != 0, &out));
  return out;
}

// clockRealtime() -> milliseconds since the epoch (CLOCK_REALTIME, sub-millisecond), the clock of packet timestamps.
static napi_value clock_realtime(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  napi_value out;
  CHECK_NAPI(env, napi_create_double(env, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6, &out));
  return out;
}

static napi_value lib_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  CHECK_NAPI(env, napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"dispatch", NULL, handle_dispatch, NULL, NULL, NULL, napi_default, NULL},
      {"stats", NULL, handle_stats, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, handle_info, NULL, NULL, NULL, napi_default, NULL},
      {"datalink", NULL, handle_datalink, NULL, NULL, NULL, napi_default, NULL},
      {"setFilter", NULL, handle_set_filter, NULL, NULL, NULL, napi_default, NULL},
      {"poll", NULL, handle_poll, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, handle_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_value ctor;
  if (napi_define_class(env, "PcapHandle", NAPI_AUTO_LENGTH, handle_new, NULL, sizeof methods / sizeof methods[0], methods, &ctor) != napi_ok) return NULL;
  napi_property_descriptor fns[] = {
      {"PcapHandle", NULL, NULL, NULL, NULL, ctor, napi_enumerable, NULL},
      {"findAllDevs", NULL, find_all_devs, NULL, NULL, NULL, napi_enumerable, NULL},
      {"compileFilter", NULL, compile_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"offlineFilter", NULL, offline_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clockRealtime", NULL, clock_realtime, NULL, NULL, NULL, napi_enumerable, NULL},
      {"libVersion", NULL, lib_version, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value headerBytes;
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;
  if (napi_create_uint32(env, HEADER_BYTES, &headerBytes) == napi_ok) napi_set_named_property(env, exports, "HEADER_BYTES", headerBytes);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
