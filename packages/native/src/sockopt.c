// Socket options Node does not expose: the original destination of a redirected connection, the
// packet mark, transparent and freebind binding, TCP keepalive timing and the user timeout. All
// operate on an fd the caller already owns.
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef IP_FREEBIND
#define IP_FREEBIND 15
#endif

static int socket_family(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return -errno;
  // A dual-stack socket serving an IPv4 peer is AF_INET6 with a v4-mapped address; netfilter
  // tracks that connection as IPv4, so it answers only the IPv4 queries.
  if (ss.ss_family == AF_INET6 &&
      IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
    return AF_INET;
  return ss.ss_family;
}

// getOriginalDst(fd) -> {address, port, family}
static napi_value get_original_dst(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!zt_get_args(env, info, 1, argv) || !zt_arg_int32(env, argv[0], &fd)) return NULL;
  int family = socket_family(fd);
  if (family < 0) return zt_throw_errno(env, -family, "getsockname");
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len = sizeof ss;
  if (family == AF_INET) {
    len = sizeof(struct sockaddr_in);
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &ss, &len) != 0)
      return zt_throw_errno(env, errno, "getsockopt(SO_ORIGINAL_DST)");
  } else if (family == AF_INET6) {
    len = sizeof(struct sockaddr_in6);
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss, &len) != 0)
      return zt_throw_errno(env, errno, "getsockopt(IP6T_SO_ORIGINAL_DST)");
  } else {
    return zt_throw_errno(env, EAFNOSUPPORT, "getsockopt(SO_ORIGINAL_DST)");
  }
  return zt_sockaddr_to_js(env, &ss);
}

// Maps an option name of the wrapper to (level, optname) for the socket's family.
static bool option_for(int fd, const char *name, int *level, int *optname, int *err) {
  if (strcmp(name, "mark") == 0) {
    *level = SOL_SOCKET;
    *optname = SO_MARK;
    return true;
  }
  if (strcmp(name, "transparent") == 0 || strcmp(name, "freebind") == 0) {
    int family = socket_family(fd);
    if (family < 0) {
      *err = -family;
      return false;
    }
    bool v6 = family == AF_INET6;
    if (name[0] == 't') {
      *level = v6 ? SOL_IPV6 : SOL_IP;
      *optname = v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT;
    } else {
      // IP_FREEBIND sets the same flag for IPv6 sockets and predates IPV6_FREEBIND (Linux 4.15).
      *level = SOL_IP;
      *optname = IP_FREEBIND;
    }
    return true;
  }
  if (strcmp(name, "reuseport") == 0) {
    *level = SOL_SOCKET;
    *optname = SO_REUSEPORT;
    return true;
  }
  // Node's setKeepAlive sets only SO_KEEPALIVE and the idle time; the probe interval and count
  // (and TCP_USER_TIMEOUT, in milliseconds) have no Node API.
  static const struct {
    const char *name;
    int level, optname;
  } plain[] = {
      {"keepalive", SOL_SOCKET, SO_KEEPALIVE},  {"keepidle", IPPROTO_TCP, TCP_KEEPIDLE},
      {"keepintvl", IPPROTO_TCP, TCP_KEEPINTVL}, {"keepcnt", IPPROTO_TCP, TCP_KEEPCNT},
      {"usertimeout", IPPROTO_TCP, TCP_USER_TIMEOUT},
  };
  for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
    if (strcmp(name, plain[i].name) == 0) {
      *level = plain[i].level;
      *optname = plain[i].optname;
      return true;
    }
  }
  *err = ENOPROTOOPT;
  return false;
}

// setSockOpt(fd, name, value)
static napi_value set_sock_opt(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, value;
  char name[32];
  if (!zt_get_args(env, info, 3, argv) || !zt_arg_int32(env, argv[0], &fd) ||
      !zt_arg_string(env, argv[1], name, sizeof name) || !zt_arg_int32(env, argv[2], &value))
    return NULL;
  int level, optname, err = 0;
  if (!option_for(fd, name, &level, &optname, &err)) return zt_throw_errno(env, err, "setsockopt");
  if (setsockopt(fd, level, optname, &value, sizeof value) != 0)
    return zt_throw_errno(env, errno, "setsockopt");
  return NULL;
}

// getSockOpt(fd, name) -> number
static napi_value get_sock_opt(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  char name[32];
  if (!zt_get_args(env, info, 2, argv) || !zt_arg_int32(env, argv[0], &fd) ||
      !zt_arg_string(env, argv[1], name, sizeof name))
    return NULL;
  int level, optname, err = 0, value = 0;
  socklen_t len = sizeof value;
  if (!option_for(fd, name, &level, &optname, &err)) return zt_throw_errno(env, err, "getsockopt");
  if (getsockopt(fd, level, optname, &value, &len) != 0) return zt_throw_errno(env, errno, "getsockopt");
  napi_value out;
  // SO_MARK is a u32; marks above 2^31 must not come back negative.
  napi_create_uint32(env, (uint32_t)value, &out);
  return out;
}

// getSockName(fd) -> {address, port, family} | undefined
static napi_value get_sock_name(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!zt_get_args(env, info, 1, argv) || !zt_arg_int32(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return zt_throw_errno(env, errno, "getsockname");
  return zt_sockaddr_to_js(env, &ss);
}

// socketError(fd) -> errno of a finished non-blocking connect (0 on success)
static napi_value socket_error(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!zt_get_args(env, info, 1, argv) || !zt_arg_int32(env, argv[0], &fd)) return NULL;
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len) != 0)
    return zt_throw_errno(env, errno, "getsockopt(SO_ERROR)");
  napi_value out;
  napi_create_int32(env, value, &out);
  return out;
}

// closeFd(fd)
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!zt_get_args(env, info, 1, argv) || !zt_arg_int32(env, argv[0], &fd)) return NULL;
  // Linux releases the fd even when close reports EINTR, so retrying would close someone else's.
  if (close(fd) != 0 && errno != EINTR) return zt_throw_errno(env, errno, "close");
  return NULL;
}

void zt_init_sockopt(napi_env env, napi_value exports) {
  zt_set_fn(env, exports, "getOriginalDst", get_original_dst);
  zt_set_fn(env, exports, "setSockOpt", set_sock_opt);
  zt_set_fn(env, exports, "getSockOpt", get_sock_opt);
  zt_set_fn(env, exports, "getSockName", get_sock_name);
  zt_set_fn(env, exports, "socketError", socket_error);
  zt_set_fn(env, exports, "closeFd", close_fd);
}
