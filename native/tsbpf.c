// The only native code in tsbpf: raw syscalls, memory mappings and fd readiness.
// Every function returns the kernel's result, or -errno on failure; policy lives in TypeScript.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#define CHECK(env, call)                                                     \
  do {                                                                       \
    if ((call) != napi_ok) {                                                 \
      napi_throw_error((env), "EINTERNAL", "tsbpf native: " #call " failed"); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return -1;
  if (argc < want) {
    napi_throw_type_error(env, "EINVAL", "tsbpf native: too few arguments");
    return -1;
  }
  return 0;
}

static int get_i64(napi_env env, napi_value v, int64_t* out) {
  // Numbers first, with no type check: the hot calls pass plain numbers.
  if (napi_get_value_int64(env, v, out) == napi_ok) return 0;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok ? 0 : -1;
  }
  napi_throw_type_error(env, "EINVAL", "tsbpf native: expected a number");
  return -1;
}

// Any ArrayBuffer, TypedArray or DataView: its bytes, or NULL after throwing.
static int get_bytes(napi_env env, napi_value v, void** data, size_t* len) {
  bool is;
  napi_typedarray_type type;
  size_t count, offset;
  napi_value ab;
  // A typed array is asked for its contents straight away (the call fails on anything else):
  // the hot calls pass Uint8Arrays.
  if (napi_get_typedarray_info(env, v, &type, &count, data, &ab, &offset) == napi_ok) {
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: break;
    }
    *len = count * elem;
    return 0;
  }
  if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    return napi_get_dataview_info(env, v, len, data, &ab, &offset) == napi_ok ? 0 : -1;
  }
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    return napi_get_arraybuffer_info(env, v, data, len) == napi_ok ? 0 : -1;
  }
  napi_throw_type_error(env, "EINVAL", "tsbpf native: expected an ArrayBuffer or view");
  return -1;
}

// bpf(cmd, attr) -> result or -errno. The attr buffer is passed with its own length.
static napi_value n_bpf(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t cmd;
  void* attr;
  size_t len;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[0], &cmd) ||
      get_bytes(env, argv[1], &attr, &len))
    return NULL;
  long r = syscall(__NR_bpf, (int)cmd, attr, (unsigned int)len);
  return make_int(env, r < 0 ? -errno : r);
}

// bpfBound(attr) -> call(cmd): a function bound to one attr buffer, for the hot element
// commands. The call takes only the command, so the crossing does no argument or buffer
// look-up. The function holds a reference to the buffer, dropped when the function is collected.
struct bound_attr {
  void* attr;
  unsigned int size;
  napi_ref keep;
};

static napi_value n_bound_call(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  size_t argc = 1;
  void* data;
  int32_t cmd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, &data) != napi_ok) return NULL;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &cmd) != napi_ok) {
    napi_throw_type_error(env, "EINVAL", "tsbpf native: expected a command number");
    return NULL;
  }
  struct bound_attr* b = data;
  long r = syscall(__NR_bpf, cmd, b->attr, b->size);
  napi_value out;
  napi_create_int32(env, r < 0 ? -errno : (int32_t)r, &out);
  return out;
}

static void bound_free(napi_env env, void* data, void* hint) {
  struct bound_attr* b = data;
  napi_delete_reference(env, b->keep);
  free(b);
}

static napi_value n_bpf_bound(napi_env env, napi_callback_info info) {
  napi_value argv[1], fn;
  void* attr;
  size_t len;
  if (get_args(env, info, 1, argv) || get_bytes(env, argv[0], &attr, &len)) return NULL;
  struct bound_attr* b = malloc(sizeof *b);
  if (b == NULL) {
    napi_throw_error(env, "ENOMEM", "tsbpf native: out of memory");
    return NULL;
  }
  b->attr = attr;
  b->size = (unsigned int)len;
  if (napi_create_reference(env, argv[0], 1, &b->keep) != napi_ok) {
    free(b);
    napi_throw_error(env, "EINTERNAL", "tsbpf native: napi_create_reference failed");
    return NULL;
  }
  if (napi_create_function(env, "bpfBound", NAPI_AUTO_LENGTH, n_bound_call, b, &fn) != napi_ok ||
      napi_add_finalizer(env, fn, b, bound_free, NULL, NULL) != napi_ok) {
    napi_delete_reference(env, b->keep);
    free(b);
    napi_throw_error(env, "EINTERNAL", "tsbpf native: cannot create the bound call");
    return NULL;
  }
  return fn;
}

// perfEventOpen(attr, pid, cpu, groupFd, flags) -> fd or -errno
static napi_value n_perf_event_open(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t pid, cpu, group, flags;
  void* attr;
  size_t len;
  if (get_args(env, info, 5, argv) || get_bytes(env, argv[0], &attr, &len) ||
      get_i64(env, argv[1], &pid) || get_i64(env, argv[2], &cpu) ||
      get_i64(env, argv[3], &group) || get_i64(env, argv[4], &flags))
    return NULL;
  long r = syscall(__NR_perf_event_open, attr, (pid_t)pid, (int)cpu, (int)group,
                   (unsigned long)flags);
  return make_int(env, r < 0 ? -errno : r);
}

// ioctl(fd, request, arg) where arg is an integer or a buffer passed by address.
static napi_value n_ioctl(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, req;
  if (get_args(env, info, 3, argv) || get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &req))
    return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  long r;
  if (t == napi_number || t == napi_bigint) {
    int64_t arg;
    if (get_i64(env, argv[2], &arg)) return NULL;
    r = ioctl((int)fd, (unsigned long)req, (unsigned long)arg);
  } else {
    void* data;
    size_t len;
    if (get_bytes(env, argv[2], &data, &len)) return NULL;
    r = ioctl((int)fd, (unsigned long)req, data);
  }
  return make_int(env, r < 0 ? -errno : r);
}

static napi_value n_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t fd;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &fd)) return NULL;
  int r = close((int)fd);
  return make_int(env, r < 0 ? -errno : 0);
}

// Mappings are tracked so munmap() can release one deterministically and the
// ArrayBuffer's finalizer only frees what is still mapped.
typedef struct mapping {
  void* addr;
  size_t len;
  int unmapped;
} mapping;

static void mapping_finalize(napi_env env, void* data, void* hint) {
  (void)env;
  (void)data;
  mapping* m = hint;
  if (!m->unmapped) munmap(m->addr, m->len);
  free(m);
}

// mmap(fd, length, prot, flags, offset) -> ArrayBuffer or -errno
static napi_value n_mmap(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t fd, len, prot, flags, off;
  if (get_args(env, info, 5, argv) || get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &len) ||
      get_i64(env, argv[2], &prot) || get_i64(env, argv[3], &flags) || get_i64(env, argv[4], &off))
    return NULL;
  void* addr = mmap(NULL, (size_t)len, (int)prot, (int)flags, (int)fd, (off_t)off);
  if (addr == MAP_FAILED) return make_int(env, -errno);
  mapping* m = calloc(1, sizeof(*m));
  if (!m) {
    munmap(addr, (size_t)len);
    return make_int(env, -ENOMEM);
  }
  m->addr = addr;
  m->len = (size_t)len;
  napi_value ab;
  if (napi_create_external_arraybuffer(env, addr, (size_t)len, mapping_finalize, m, &ab) != napi_ok) {
    munmap(addr, (size_t)len);
    free(m);
    napi_throw_error(env, "EINTERNAL", "tsbpf native: external ArrayBuffers are not allowed here");
    return NULL;
  }
  // Keep the bookkeeping reachable from the buffer for munmap().
  napi_value ext;
  CHECK(env, napi_create_external(env, m, NULL, NULL, &ext));
  napi_value holder;
  CHECK(env, napi_create_object(env, &holder));
  CHECK(env, napi_set_named_property(env, holder, "buffer", ab));
  CHECK(env, napi_set_named_property(env, holder, "handle", ext));
  return holder;
}

// munmap(handle, buffer): unmaps now and detaches the buffer so JS can no longer touch it.
static napi_value n_munmap(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  mapping* m;
  CHECK(env, napi_get_value_external(env, argv[0], (void**)&m));
  if (m->unmapped) return make_int(env, -EBADF);
  int r = munmap(m->addr, m->len);
  if (r < 0) return make_int(env, -errno);
  m->unmapped = 1;
  bool detachable;
  if (napi_is_detached_arraybuffer(env, argv[1], &detachable) == napi_ok && !detachable)
    napi_detach_arraybuffer(env, argv[1]);
  return make_int(env, 0);
}

// Readiness of an fd through the event loop. One uv_poll per watched fd.
typedef struct watcher {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_async_context ctx;
  napi_ref resource;
  int stopped;
} watcher;

static void watcher_closed(uv_handle_t* h) {
  watcher* w = h->data;
  free(w);
}

static void watcher_event(uv_poll_t* h, int status, int events) {
  watcher* w = h->data;
  if (w->stopped) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], resource;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_reference_value(env, w->resource, &resource);
  napi_get_undefined(env, &recv);
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, events, &argv[1]);
  napi_value result;
  napi_status st = napi_make_callback(env, w->ctx, resource, cb, 2, argv, &result);
  if (st == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

// pollStart(fd, events, callback(status, events)) -> handle
static napi_value n_poll_start(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, events;
  if (get_args(env, info, 3, argv) || get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &events))
    return NULL;
  uv_loop_t* loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  watcher* w = calloc(1, sizeof(*w));
  if (!w) return make_int(env, -ENOMEM);
  w->env = env;
  int r = uv_poll_init(loop, &w->handle, (int)fd);
  if (r < 0) {
    free(w);
    return make_int(env, r);
  }
  w->handle.data = w;
  napi_value resource, name;
  CHECK(env, napi_create_object(env, &resource));
  CHECK(env, napi_create_string_utf8(env, "tsbpf:poll", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_async_init(env, resource, name, &w->ctx));
  CHECK(env, napi_create_reference(env, resource, 1, &w->resource));
  CHECK(env, napi_create_reference(env, argv[2], 1, &w->callback));
  r = uv_poll_start(&w->handle, (int)events, watcher_event);
  if (r < 0) {
    napi_delete_reference(env, w->callback);
    napi_delete_reference(env, w->resource);
    napi_async_destroy(env, w->ctx);
    uv_close((uv_handle_t*)&w->handle, watcher_closed);
    return make_int(env, r);
  }
  napi_value ext;
  CHECK(env, napi_create_external(env, w, NULL, NULL, &ext));
  return ext;
}

static napi_value n_poll_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (get_args(env, info, 1, argv)) return NULL;
  watcher* w;
  CHECK(env, napi_get_value_external(env, argv[0], (void**)&w));
  if (w->stopped) return make_int(env, -EBADF);
  w->stopped = 1;
  uv_poll_stop(&w->handle);
  napi_delete_reference(env, w->callback);
  napi_delete_reference(env, w->resource);
  napi_async_destroy(env, w->ctx);
  uv_close((uv_handle_t*)&w->handle, watcher_closed);
  return make_int(env, 0);
}

// pollRef(handle, ref): whether a watcher keeps the event loop alive.
static napi_value n_poll_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (get_args(env, info, 2, argv)) return NULL;
  watcher* w;
  bool ref;
  CHECK(env, napi_get_value_external(env, argv[0], (void**)&w));
  CHECK(env, napi_get_value_bool(env, argv[1], &ref));
  if (w->stopped) return make_int(env, -EBADF);
  if (ref)
    uv_ref((uv_handle_t*)&w->handle);
  else
    uv_unref((uv_handle_t*)&w->handle);
  return make_int(env, 0);
}

// setsockopt(fd, level, name, value)
static napi_value n_setsockopt(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int64_t fd, level, name;
  void* data;
  size_t len;
  if (get_args(env, info, 4, argv) || get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &level) ||
      get_i64(env, argv[2], &name) || get_bytes(env, argv[3], &data, &len))
    return NULL;
  int r = setsockopt((int)fd, (int)level, (int)name, data, (socklen_t)len);
  return make_int(env, r < 0 ? -errno : 0);
}

// setrlimit(resource, cur, max); a negative value means RLIM_INFINITY.
static napi_value n_setrlimit(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t res, cur, max;
  if (get_args(env, info, 3, argv) || get_i64(env, argv[0], &res) || get_i64(env, argv[1], &cur) ||
      get_i64(env, argv[2], &max))
    return NULL;
  struct rlimit rl = {
      .rlim_cur = cur < 0 ? RLIM_INFINITY : (rlim_t)cur,
      .rlim_max = max < 0 ? RLIM_INFINITY : (rlim_t)max,
  };
  int r = setrlimit((int)res, &rl);
  return make_int(env, r < 0 ? -errno : 0);
}

// addressOf(buffer) -> bigint address of its first byte, for pointer fields in attrs.
static napi_value n_address_of(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  void* data;
  size_t len;
  if (get_args(env, info, 1, argv) || get_bytes(env, argv[0], &data, &len)) return NULL;
  napi_value out;
  CHECK(env, napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)data, &out));
  return out;
}

// socket(domain, type, protocol) -> fd or -errno (netlink and raw sockets for links).
static napi_value n_socket(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t d, t, p;
  if (get_args(env, info, 3, argv) || get_i64(env, argv[0], &d) || get_i64(env, argv[1], &t) ||
      get_i64(env, argv[2], &p))
    return NULL;
  int r = socket((int)d, (int)t, (int)p);
  return make_int(env, r < 0 ? -errno : r);
}

// bind(fd, sockaddr bytes)
static napi_value n_bind(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  void* addr;
  size_t len;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[0], &fd) ||
      get_bytes(env, argv[1], &addr, &len))
    return NULL;
  int r = bind((int)fd, addr, (socklen_t)len);
  return make_int(env, r < 0 ? -errno : 0);
}

// send(fd, bytes, flags) -> bytes sent or -errno
static napi_value n_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, flags;
  void* data;
  size_t len;
  if (get_args(env, info, 3, argv) || get_i64(env, argv[0], &fd) ||
      get_bytes(env, argv[1], &data, &len) || get_i64(env, argv[2], &flags))
    return NULL;
  ssize_t r = send((int)fd, data, len, (int)flags);
  return make_int(env, r < 0 ? -errno : r);
}

// recv(fd, buffer, flags) -> bytes received or -errno
static napi_value n_recv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int64_t fd, flags;
  void* data;
  size_t len;
  if (get_args(env, info, 3, argv) || get_i64(env, argv[0], &fd) ||
      get_bytes(env, argv[1], &data, &len) || get_i64(env, argv[2], &flags))
    return NULL;
  ssize_t r = recv((int)fd, data, len, (int)flags);
  return make_int(env, r < 0 ? -errno : r);
}

// dup(fd) -> a new close-on-exec fd for the same file, or -errno
static napi_value n_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int64_t fd;
  if (get_args(env, info, 1, argv) || get_i64(env, argv[0], &fd)) return NULL;
  int r = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
  return make_int(env, r < 0 ? -errno : r);
}

// read(fd, buffer) -> bytes read or -errno (perf counters, eventfds, iterator fds).
static napi_value n_read(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  void* data;
  size_t len;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[0], &fd) ||
      get_bytes(env, argv[1], &data, &len))
    return NULL;
  ssize_t r = read((int)fd, data, len);
  return make_int(env, r < 0 ? -errno : r);
}

// write(fd, buffer) -> bytes written or -errno (fanotify permission responses).
static napi_value n_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t fd;
  void* data;
  size_t len;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[0], &fd) ||
      get_bytes(env, argv[1], &data, &len))
    return NULL;
  ssize_t r = write((int)fd, data, len);
  return make_int(env, r < 0 ? -errno : r);
}

// fanotifyInit(flags, eventFlags) -> fd or -errno
static napi_value n_fanotify_init(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t flags, event_flags;
  if (get_args(env, info, 2, argv) || get_i64(env, argv[0], &flags) || get_i64(env, argv[1], &event_flags))
    return NULL;
  long r = syscall(SYS_fanotify_init, (unsigned int)flags, (unsigned int)event_flags);
  return make_int(env, r < 0 ? -errno : r);
}

// fanotifyMark(fd, flags, mask, dirfd, path) -> 0 or -errno; path: NUL-terminated bytes.
static napi_value n_fanotify_mark(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int64_t fd, flags, mask, dirfd;
  void* path;
  size_t len;
  if (get_args(env, info, 5, argv) || get_i64(env, argv[0], &fd) || get_i64(env, argv[1], &flags) ||
      get_i64(env, argv[2], &mask) || get_i64(env, argv[3], &dirfd) || get_bytes(env, argv[4], &path, &len))
    return NULL;
  if (len == 0 || ((const char*)path)[len - 1] != 0) return make_int(env, -EINVAL);
  long r = syscall(SYS_fanotify_mark, (int)fd, (unsigned int)flags, (uint64_t)mask, (int)dirfd, (const char*)path);
  return make_int(env, r < 0 ? -errno : r);
}

// syscall numbers and constants TypeScript needs from this architecture.
static napi_value constants(napi_env env) {
  napi_value obj;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "PAGE_SIZE", make_int(env, sysconf(_SC_PAGESIZE)));
  napi_set_named_property(env, obj, "RLIMIT_MEMLOCK", make_int(env, RLIMIT_MEMLOCK));
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bpf", NULL, n_bpf, NULL, NULL, NULL, napi_default, NULL},
      {"bpfBound", NULL, n_bpf_bound, NULL, NULL, NULL, napi_default, NULL},
      {"perfEventOpen", NULL, n_perf_event_open, NULL, NULL, NULL, napi_default, NULL},
      {"ioctl", NULL, n_ioctl, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, n_close, NULL, NULL, NULL, napi_default, NULL},
      {"mmap", NULL, n_mmap, NULL, NULL, NULL, napi_default, NULL},
      {"munmap", NULL, n_munmap, NULL, NULL, NULL, napi_default, NULL},
      {"pollStart", NULL, n_poll_start, NULL, NULL, NULL, napi_default, NULL},
      {"pollStop", NULL, n_poll_stop, NULL, NULL, NULL, napi_default, NULL},
      {"pollRef", NULL, n_poll_ref, NULL, NULL, NULL, napi_default, NULL},
      {"setsockopt", NULL, n_setsockopt, NULL, NULL, NULL, napi_default, NULL},
      {"setrlimit", NULL, n_setrlimit, NULL, NULL, NULL, napi_default, NULL},
      {"addressOf", NULL, n_address_of, NULL, NULL, NULL, napi_default, NULL},
      {"socket", NULL, n_socket, NULL, NULL, NULL, napi_default, NULL},
      {"bind", NULL, n_bind, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, n_send, NULL, NULL, NULL, napi_default, NULL},
      {"recv", NULL, n_recv, NULL, NULL, NULL, napi_default, NULL},
      {"read", NULL, n_read, NULL, NULL, NULL, napi_default, NULL},
      {"dup", NULL, n_dup, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, n_write, NULL, NULL, NULL, napi_default, NULL},
      {"fanotifyInit", NULL, n_fanotify_init, NULL, NULL, NULL, napi_default, NULL},
      {"fanotifyMark", NULL, n_fanotify_mark, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_set_named_property(env, exports, "constants", constants(env));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
