/*
 * erofs-fuse-native: what the daemon cannot do from JavaScript.
 *
 * 1. watch(): tells JavaScript when a non-blocking /dev/fuse descriptor has requests
 *    waiting, from the event loop's own epoll set.
 *
 * Why native: Node can only read a character device through its thread pool, and each
 * request then costs three thread wake-ups (pool thread, main loop, the next pool read)
 * before it is even parsed. A uv_poll handle costs one: the kernel wakes the loop, which
 * reads every waiting request itself. The protocol stays in TypeScript; this part only
 * waits.
 *
 * 2. trimHeap(): malloc_trim, which Node does not expose (see trim_heap below).
 *
 * 3. dropPages(): posix_fadvise DONTNEED, which Node does not expose (see drop_pages).
 *
 * 4. socketPair() and receiveFd(): mounting without root goes through the setuid
 *    fusermount3, which opens /dev/fuse, mounts, and sends the descriptor back over a
 *    unix socket as SCM_RIGHTS ancillary data; Node can neither make the socket pair
 *    nor read ancillary data.
 *
 * 5. exitNow(): _exit, so that ending the daemon does not wait on V8's threads (see
 *    exit_now).
 *
 * API: watch(fd, callback, isIdle, spinMicros) -> { close() }. callback(status) runs on
 * the main thread with status 0 when the descriptor is readable, or a negative libuv
 * error (the connection ended), after which no more calls come. When isIdle() then says
 * nothing is in flight, the watcher checks the descriptor for up to spinMicros before it
 * lets the loop sleep (request_soon).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

typedef struct {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback;
  napi_ref is_idle;
  napi_async_context context;
  int fd;
  /* How long to keep checking for the next request once the daemon is idle (see on_poll). */
  int64_t spin_ns;
  int polling;
} watcher_t;

/* Requests handled per wake-up before the loop gets its turn again (timers, other mounts). */
#define MAX_REQUESTS_PER_WAKEUP 64

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Whether a request arrives within spin_ns. On a virtual machine, waking a sleeping
 * thread on another CPU costs tens of microseconds, more than most requests take to
 * serve; a client issuing requests one after another (ls -l, a walk reading small files)
 * sends its next one within that time, so the daemon looks for it before going to sleep.
 */
static int request_soon(watcher_t *w) {
  if (w->spin_ns <= 0) return 0;
  struct pollfd p = {.fd = w->fd, .events = POLLIN, .revents = 0};
  int64_t deadline = now_ns() + w->spin_ns;
  do {
    if (poll(&p, 1, 0) != 0) return 1;
  } while (now_ns() < deadline);
  return 0;
}

static void release_watcher(uv_handle_t *handle) { free(handle->data); }

static void stop_polling(watcher_t *w) {
  if (!w->polling) return;
  w->polling = 0;
  uv_poll_stop(&w->handle);
}

/* Ends the watcher for good: its memory goes once libuv has closed the handle. */
static void dispose_watcher(napi_env env, void *data, void *hint) {
  (void)hint;
  watcher_t *w = data;
  stop_polling(w);
  napi_delete_reference(env, w->callback);
  napi_delete_reference(env, w->is_idle);
  napi_async_destroy(env, w->context);
  uv_close((uv_handle_t *)&w->handle, release_watcher);
}

/* Calls the JS callback, then asks whether the daemon is idle (nothing in flight): only
 * after make_callback has run the promise jobs, which is where replies are written. */
static int call_back(watcher_t *w, int status) {
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return 0;
  napi_value callback, receiver, arg, result;
  napi_get_reference_value(env, w->callback, &callback);
  /* make_callback wants an object as `this`. */
  napi_get_global(env, &receiver);
  napi_create_int32(env, status, &arg);
  bool idle = false;
  /* make_callback (not call_function) so promise jobs queued by the handler run now. */
  napi_status called = napi_make_callback(env, w->context, receiver, callback, 1, &arg, &result);
  if (called == napi_pending_exception) {
    /* A throw in the callback is an uncaught exception, as in any other event callback. */
    napi_value error;
    if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
  } else if (called == napi_ok && status >= 0 && w->polling) {
    napi_value is_idle;
    napi_get_reference_value(env, w->is_idle, &is_idle);
    if (napi_call_function(env, receiver, is_idle, 0, NULL, &result) == napi_ok) napi_get_value_bool(env, result, &idle);
    else napi_get_and_clear_last_exception(env, &result);
  }
  napi_close_handle_scope(env, scope);
  return idle;
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)events;
  watcher_t *w = handle->data;
  if (!w->polling) return;
  /* After an error libuv has already stopped the handle: no further calls. */
  if (status < 0) {
    w->polling = 0;
    call_back(w, status);
    return;
  }
  for (int i = 0; i < MAX_REQUESTS_PER_WAKEUP && w->polling; i++) {
    /* Spin only when nothing is in flight: a reply still waiting for the thread pool
     * needs the loop, which a spinning callback would hold up. */
    if (!call_back(w, 0) || !w->polling || !request_soon(w)) break;
  }
}

static napi_value close_watcher(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, NULL, NULL, &self, NULL);
  void *w;
  /* remove_wrap also drops the finalizer, so the watcher is disposed exactly once. */
  if (napi_remove_wrap(env, self, &w) == napi_ok && w) dispose_watcher(env, w, NULL);
  return NULL;
}

/* Whether `value` is a usable file descriptor number; stores it in *fd. */
static bool descriptor_arg(napi_env env, napi_value value, int32_t *fd) {
  return napi_get_value_int32(env, value, fd) == napi_ok && *fd >= 0;
}

static napi_value watch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  napi_valuetype type, idle_type;
  if (argc < 3 || !descriptor_arg(env, argv[0], &fd) ||
      napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function ||
      napi_typeof(env, argv[2], &idle_type) != napi_ok || idle_type != napi_function) {
    napi_throw_type_error(env, NULL, "watch(fd, callback, isIdle, spinMicros): fd must be a descriptor, callback and isIdle functions");
    return NULL;
  }
  int32_t spin_us = 0;
  if (argc >= 4 && napi_get_value_int32(env, argv[3], &spin_us) != napi_ok) spin_us = 0;
  if (spin_us < 0) spin_us = 0;
  if (spin_us > 1000) spin_us = 1000;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "no event loop");
    return NULL;
  }
  watcher_t *w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  int rc = uv_poll_init(loop, &w->handle, fd);
  if (rc != 0) {
    free(w);
    napi_throw_error(env, uv_err_name(rc), uv_strerror(rc));
    return NULL;
  }
  w->handle.data = w;
  w->env = env;
  w->fd = fd;
  w->spin_ns = (int64_t)spin_us * 1000;
  napi_value name;
  napi_create_string_utf8(env, "erofs-fuse:poll", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &w->context);
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_create_reference(env, argv[2], 1, &w->is_idle);
  rc = uv_poll_start(&w->handle, UV_READABLE, on_poll);
  if (rc != 0) {
    dispose_watcher(env, w, NULL);
    napi_throw_error(env, uv_err_name(rc), uv_strerror(rc));
    return NULL;
  }
  w->polling = 1;
  napi_value handle, close_fn;
  napi_create_object(env, &handle);
  /* If the handle object is collected without close(), the finalizer ends the watcher. */
  napi_wrap(env, handle, w, dispose_watcher, NULL, NULL);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, close_watcher, NULL, &close_fn);
  napi_set_named_property(env, handle, "close", close_fn);
  return handle;
}

/*
 * trimHeap(): hands the free memory at the top of malloc's heaps back to the system.
 * Buffers under the mmap threshold (metadata blocks, small reads) come from malloc, and
 * after a burst of requests the freed ones stay mapped; measured on app-a + app-b, about
 * 20 MB of the daemon's RSS. Called once a burst is over, after a full collection.
 */
static napi_value trim_heap(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value released;
  napi_get_boolean(env, malloc_trim(0) != 0, &released);
  return released;
}

/*
 * dropPages(fd, offset, length): posix_fadvise(POSIX_FADV_DONTNEED), length 0 meaning to
 * the end. The daemon keeps what it reads from an image in its own caches, and the kernel
 * caches the mounted files' pages: the image's own pages would be a third copy. Returns
 * false when the kernel refused the advice.
 */
static napi_value drop_pages(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  int64_t offset = 0, length = 0;
  if (argc < 3 || !descriptor_arg(env, argv[0], &fd) || napi_get_value_int64(env, argv[1], &offset) != napi_ok ||
      napi_get_value_int64(env, argv[2], &length) != napi_ok || offset < 0 || length < 0) {
    napi_throw_type_error(env, NULL, "dropPages(fd, offset, length): a descriptor and two non-negative integers");
    return NULL;
  }
  napi_value done;
  napi_get_boolean(env, posix_fadvise(fd, (off_t)offset, (off_t)length, POSIX_FADV_DONTNEED) == 0, &done);
  return done;
}

/*
 * exitNow(code): _exit(code). process.exit joins V8's worker threads, and one of them can
 * be inside a compile job waiting for the main thread to collect garbage, which it never
 * does again (nodejs/node#54918): the process then hangs for good, its signal handlers
 * never run. The daemon calls this once it has unmounted and closed what it holds.
 */
static napi_value exit_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t code = 1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &code) != napi_ok) code = 1;
  _exit(code & 0xff);
}

static napi_value throw_errno(napi_env env, const char *what) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* socketPair(): two connected unix stream sockets (close-on-exec; spawn's stdio
 * mapping gives the child its end without the flag). */
static napi_value socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return throw_errno(env, "socketpair");
  napi_value pair, fd;
  napi_create_array_with_length(env, 2, &pair);
  for (uint32_t i = 0; i < 2; i++) {
    napi_create_int32(env, sv[i], &fd);
    napi_set_element(env, pair, i, fd);
  }
  return pair;
}

/* receiveFd(socket, nonBlocking): the one descriptor sent over `socket` with SCM_RIGHTS.
 * Throws when the peer closed without sending one (fusermount3 failed). */
static napi_value receive_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t sock;
  bool non_blocking = false;
  if (argc < 1 || !descriptor_arg(env, argv[0], &sock)) {
    napi_throw_type_error(env, NULL, "receiveFd(socket, nonBlocking): socket must be a descriptor");
    return NULL;
  }
  if (argc >= 2) napi_get_value_bool(env, argv[1], &non_blocking);
  char byte;
  struct iovec iov = {.iov_base = &byte, .iov_len = 1};
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof(int))];
  } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "recvmsg");
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (n == 0 || !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) {
    napi_throw_error(env, NULL, "no descriptor was sent");
    return NULL;
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  if (non_blocking) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      close(fd);
      return throw_errno(env, "fcntl");
    }
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"watch", NULL, watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"trimHeap", NULL, trim_heap, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropPages", NULL, drop_pages, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketPair", NULL, socket_pair, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receiveFd", NULL, receive_fd, NULL, NULL, NULL, napi_enumerable, NULL},
      {"exitNow", NULL, exit_now, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
