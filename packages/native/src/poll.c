// Readiness of fds that Node does not wrap (SEQPACKET sockets, connects in progress), watched on
// the calling thread's own libuv loop with uv_poll. JS gets a callback (status, events) through
// napi_make_callback, so promise reactions run right after it as for any other I/O callback.
// One watcher per fd (libuv allows no more); it must be closed before the fd is.
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"

typedef struct watcher {
  uv_poll_t handle;
  struct watcher *next;
  struct instance *inst;
  int fd;
  bool owns_fd;  // close the fd too when the environment goes away
  bool closing;
  napi_ref callback;
  napi_async_context context;
} watcher_t;

typedef struct instance {
  napi_env env;
  watcher_t *watchers;
  int open_handles;  // watchers whose close callback has not run yet
  bool tearing_down;
  napi_async_cleanup_hook_handle cleanup;
} instance_t;

static instance_t *instance_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

static watcher_t *find(instance_t *inst, int fd) {
  for (watcher_t *w = inst->watchers; w != NULL; w = w->next)
    if (w->fd == fd && !w->closing) return w;
  return NULL;
}

static void unlink_watcher(instance_t *inst, watcher_t *w) {
  for (watcher_t **p = &inst->watchers; *p != NULL; p = &(*p)->next) {
    if (*p == w) {
      *p = w->next;
      return;
    }
  }
}

static void on_close(uv_handle_t *handle) {
  watcher_t *w = handle->data;
  instance_t *inst = w->inst;
  unlink_watcher(inst, w);
  // During environment teardown JS is gone; references die with the environment.
  if (!inst->tearing_down) {
    napi_delete_reference(inst->env, w->callback);
    napi_async_destroy(inst->env, w->context);
  }
  free(w);
  inst->open_handles--;
  if (inst->tearing_down && inst->open_handles == 0) napi_remove_async_cleanup_hook(inst->cleanup);
}

static void start_close(watcher_t *w) {
  if (w->closing) return;
  w->closing = true;
  uv_poll_stop(&w->handle);  // also drops the fd from epoll, so the caller may close it right away
  uv_close((uv_handle_t *)&w->handle, on_close);
  // A worker that exits leaves no JS to close its sockets; without this the peer never sees EOF.
  if (w->inst->tearing_down && w->owns_fd) close(w->fd);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  watcher_t *w = handle->data;
  instance_t *inst = w->inst;
  if (w->closing || inst->tearing_down) return;
  napi_env env = inst->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_global(env, &recv);  // napi_make_callback wants an object receiver
  napi_create_int32(env, status, &argv[0]);
  napi_create_int32(env, events, &argv[1]);
  if (napi_make_callback(env, w->context, recv, cb, 2, argv, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

// pollOpen(fd, callback(status, events), ownsFd) — the watcher starts idle; pollSet arms it.
// ownsFd: the fd belongs to the watcher's owner and is closed if the environment is torn down.
static napi_value poll_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  bool owns_fd;
  if (!zt_get_args(env, info, 3, argv) || !zt_arg_int32(env, argv[0], &fd) || !zt_arg_bool(env, argv[2], &owns_fd))
    return NULL;
  instance_t *inst = instance_of(env);
  if (find(inst, fd) != NULL) return zt_throw_arg(env, "zt_native: fd is already watched");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  watcher_t *w = calloc(1, sizeof *w);
  if (w == NULL) return zt_throw_arg(env, "zt_native: out of memory");
  int rc = uv_poll_init(loop, &w->handle, fd);
  if (rc != 0) {
    free(w);
    return zt_throw_errno(env, -rc, "uv_poll_init");
  }
  napi_value name;
  napi_create_string_utf8(env, "ZT_NATIVE_POLL", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_async_init(env, NULL, name, &w->context);
  w->handle.data = w;
  w->inst = inst;
  w->fd = fd;
  w->owns_fd = owns_fd;
  w->next = inst->watchers;
  inst->watchers = w;
  inst->open_handles++;
  return NULL;
}

// pollSet(fd, events) — events: 1 readable, 2 writable (uv_poll_event bits); 0 pauses.
static napi_value poll_set(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, events;
  if (!zt_get_args(env, info, 2, argv) || !zt_arg_int32(env, argv[0], &fd) ||
      !zt_arg_int32(env, argv[1], &events))
    return NULL;
  watcher_t *w = find(instance_of(env), fd);
  if (w == NULL) return zt_throw_arg(env, "zt_native: fd is not watched");
  int rc = events == 0 ? uv_poll_stop(&w->handle)
                       : uv_poll_start(&w->handle, events & (UV_READABLE | UV_WRITABLE), on_poll);
  if (rc != 0) return zt_throw_errno(env, -rc, "uv_poll_start");
  return NULL;
}

// pollRef(fd, ref) — an unref'd watcher does not keep the event loop alive.
static napi_value poll_ref(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  bool ref;
  if (!zt_get_args(env, info, 2, argv) || !zt_arg_int32(env, argv[0], &fd) || !zt_arg_bool(env, argv[1], &ref))
    return NULL;
  watcher_t *w = find(instance_of(env), fd);
  if (w == NULL) return zt_throw_arg(env, "zt_native: fd is not watched");
  if (ref)
    uv_ref((uv_handle_t *)&w->handle);
  else
    uv_unref((uv_handle_t *)&w->handle);
  return NULL;
}

// pollClose(fd) — no callback runs after this returns; closing an unwatched fd is a no-op.
static napi_value poll_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!zt_get_args(env, info, 1, argv) || !zt_arg_int32(env, argv[0], &fd)) return NULL;
  watcher_t *w = find(instance_of(env), fd);
  if (w != NULL) start_close(w);
  return NULL;
}

// A worker's loop must hold no handle of ours when it closes, or Node aborts the process.
static void on_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  instance_t *inst = arg;
  inst->tearing_down = true;
  for (watcher_t *w = inst->watchers; w != NULL; w = w->next) start_close(w);
  if (inst->open_handles == 0) napi_remove_async_cleanup_hook(handle);
}

static void free_instance(napi_env env, void *data, void *hint) { free(data); }

bool zt_init_poll(napi_env env, napi_value exports) {
  instance_t *inst = calloc(1, sizeof *inst);
  if (inst == NULL) return false;
  inst->env = env;
  if (napi_set_instance_data(env, inst, free_instance, NULL) != napi_ok) return false;
  if (napi_add_async_cleanup_hook(env, on_cleanup, inst, &inst->cleanup) != napi_ok) return false;
  zt_set_fn(env, exports, "pollOpen", poll_open);
  zt_set_fn(env, exports, "pollSet", poll_set);
  zt_set_fn(env, exports, "pollRef", poll_ref);
  zt_set_fn(env, exports, "pollClose", poll_close);
  return true;
}
