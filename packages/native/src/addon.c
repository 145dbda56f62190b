// Module entry: registers each area's functions. Per-thread state (the fd watchers of poll.c) lives
// in instance data, so the addon can be loaded by several worker_threads at once.
#include "addon.h"

void zt_set_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok) return;
  napi_set_named_property(env, exports, name, fn);
}

NAPI_MODULE_INIT() {
  zt_init_sockopt(env, exports);
  zt_init_open(env, exports);
  zt_init_seqpacket(env, exports);
  zt_init_memory(env, exports);
  zt_init_ktls(env, exports);
  zt_init_sysctl(env, exports);
  if (!zt_init_poll(env, exports)) return NULL;
  return exports;
}
