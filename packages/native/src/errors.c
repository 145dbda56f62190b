// Error construction and argument parsing shared by every area of the addon.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "addon.h"

napi_value zt_throw_errno(napi_env env, int err, const char *syscall) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s failed: %s", syscall, strerror(err));
  // uv_err_name knows every errno Linux returns here and spells it the way Node does.
  const char *code = uv_err_name(-err);
  napi_value js_code, js_msg, error, js_errno, js_syscall;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &js_msg);
  napi_create_error(env, js_code, js_msg, &error);
  napi_create_int32(env, -err, &js_errno);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall);
  napi_set_named_property(env, error, "errno", js_errno);
  napi_set_named_property(env, error, "syscall", js_syscall);
  napi_throw(env, error);
  return NULL;
}

napi_value zt_throw_arg(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
  return NULL;
}

bool zt_get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) {
    zt_throw_arg(env, "zt_native: too few arguments");
    return false;
  }
  return true;
}

bool zt_arg_int32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    zt_throw_arg(env, "zt_native: expected a number");
    return false;
  }
  return true;
}

bool zt_arg_bool(napi_env env, napi_value v, bool *out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) {
    zt_throw_arg(env, "zt_native: expected a boolean");
    return false;
  }
  return true;
}

bool zt_arg_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    zt_throw_arg(env, "zt_native: expected a string");
    return false;
  }
  if (len + 1 > size) {
    zt_throw_arg(env, "zt_native: string argument too long");
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, size, &len);
  return true;
}

napi_value zt_sockaddr_to_js(napi_env env, const struct sockaddr_storage *ss) {
  char text[INET6_ADDRSTRLEN] = {0};
  int port, family;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    port = ntohs(sin->sin_port);
    family = 4;
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    port = ntohs(sin6->sin6_port);
    family = 6;
  } else {
    napi_value undef;
    napi_get_undefined(env, &undef);
    return undef;
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "address", v);
  napi_create_int32(env, port, &v);
  napi_set_named_property(env, obj, "port", v);
  napi_create_int32(env, family, &v);
  napi_set_named_property(env, obj, "family", v);
  return obj;
}

bool zt_parse_sockaddr(const char *address, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (port < 0 || port > 65535) return false;
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    *len = sizeof *sin;
    return true;
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    *len = sizeof *sin6;
    return true;
  }
  return false;
}
