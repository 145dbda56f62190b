// Hands the C heap's free pages back to the kernel. glibc keeps what a burst of traffic freed in
// its per-thread arenas, so a zt that relayed a few GiB stays ~70 MB larger than it needs to be
// until something calls malloc_trim; allocators that return memory themselves make this a no-op.
#include "addon.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value release_free_memory(napi_env env, napi_callback_info info) {
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value out;
  napi_get_boolean(env, released != 0, &out);
  return out;
}

void zt_init_memory(napi_env env, napi_value exports) {
  zt_set_fn(env, exports, "releaseFreeMemory", release_free_memory);
}
