// Shared declarations of the zt_native addon. Every exported function takes plain numbers, strings
// and Buffers; the TypeScript wrapper in this folder is the only caller and owns validation of
// anything richer (sockets, servers, option objects).
#ifndef ZT_NATIVE_ADDON_H
#define ZT_NATIVE_ADDON_H

#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

// Throws an Error carrying Node's system-error shape: code ("EPERM"), errno (negative), syscall.
napi_value zt_throw_errno(napi_env env, int err, const char *syscall);
// Throws a TypeError with code ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE.
napi_value zt_throw_arg(napi_env env, const char *message);

// Argument helpers: return false after throwing when the argument has the wrong type.
bool zt_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
bool zt_arg_int32(napi_env env, napi_value v, int32_t *out);
bool zt_arg_bool(napi_env env, napi_value v, bool *out);
// Copies a JS string into buf (NUL terminated); fails when it does not fit.
bool zt_arg_string(napi_env env, napi_value v, char *buf, size_t size);

// {address, port, family: 4 | 6} from a socket address, or undefined for other families.
napi_value zt_sockaddr_to_js(napi_env env, const struct sockaddr_storage *ss);
// Parses a numeric IPv4/IPv6 address ("10.0.0.1", "fd00::1", "fe80::1%eth0" is rejected) and port.
bool zt_parse_sockaddr(const char *address, int port, struct sockaddr_storage *ss, socklen_t *len);

void zt_set_fn(napi_env env, napi_value exports, const char *name, napi_callback cb);

// Per-area registration, called from module init.
void zt_init_sockopt(napi_env env, napi_value exports);
void zt_init_open(napi_env env, napi_value exports);
void zt_init_seqpacket(napi_env env, napi_value exports);
bool zt_init_poll(napi_env env, napi_value exports);
void zt_init_memory(napi_env env, napi_value exports);
void zt_init_ktls(napi_env env, napi_value exports);
void zt_init_sysctl(napi_env env, napi_value exports);

#endif
