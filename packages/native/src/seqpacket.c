// SOCK_SEQPACKET Unix sockets with SCM_RIGHTS, which Node's net module cannot do. Every fd is
// non-blocking: calls that would block return null and the wrapper waits for readiness through
// poll.c, so no thread ever sleeps in the kernel on our behalf.
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "addon.h"

#define ZT_MAX_FDS 253  // SCM_MAX_FD in the kernel

static bool unix_addr(napi_env env, napi_value v, struct sockaddr_un *sun, socklen_t *len) {
  memset(sun, 0, sizeof *sun);
  sun->sun_family = AF_UNIX;
  if (!zt_arg_string(env, v, sun->sun_path, sizeof sun->sun_path)) return false;
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sun->sun_path) + 1);
  return true;
}

static napi_value int_value(napi_env env, int n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

static napi_value null_value(napi_env env) {
  napi_value v;
  napi_get_null(env, &v);
  return v;
}

// seqpacketListen(path, backlog) -> fd
static napi_value seqpacket_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct sockaddr_un sun;
  socklen_t len;
  int32_t backlog;
  if (!zt_get_args(env, info, 2, argv) || !unix_addr(env, argv[0], &sun, &len) ||
      !zt_arg_int32(env, argv[1], &backlog))
    return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return zt_throw_errno(env, errno, "socket");
  if (bind(fd, (struct sockaddr *)&sun, len) != 0 || listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return zt_throw_errno(env, err, "bind/listen");
  }
  return int_value(env, fd);
}

// seqpacketConnect(path) -> fd. Connecting to a local listener completes at once unless its
// backlog is full; then EAGAIN is reported rather than waiting.
static napi_value seqpacket_connect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct sockaddr_un sun;
  socklen_t len;
  if (!zt_get_args(env, info, 1, argv) || !unix_addr(env, argv[0], &sun, &len)) return NULL;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return zt_throw_errno(env, errno, "socket");
  if (connect(fd, (struct sockaddr *)&sun, len) != 0) {
    int err = errno;
    close(fd);
    return zt_throw_errno(env, err, "connect");
  }
  return int_value(env, fd);
}

// seqpacketAccept(fd) -> fd | null (nothing pending)
static napi_value seqpacket_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!zt_get_args(env, info, 1, argv) || !zt_arg_int32(env, argv[0], &fd)) return NULL;
  int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (conn < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return null_value(env);
    return zt_throw_errno(env, errno, "accept");
  }
  return int_value(env, conn);
}

// sendMsg(fd, data: Buffer, fds: number[]) -> bytes sent | null (socket buffer full)
static napi_value send_msg(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  if (!zt_get_args(env, info, 3, argv) || !zt_arg_int32(env, argv[0], &fd)) return NULL;
  void *data;
  size_t size;
  if (napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok)
    return zt_throw_arg(env, "zt_native: data must be a Buffer");
  uint32_t nfds = 0;
  if (napi_get_array_length(env, argv[2], &nfds) != napi_ok)
    return zt_throw_arg(env, "zt_native: fds must be an array");
  if (nfds > ZT_MAX_FDS) return zt_throw_arg(env, "zt_native: at most 253 fds per message");
  union {
    char buf[CMSG_SPACE(sizeof(int) * ZT_MAX_FDS)];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {.iov_base = data, .iov_len = size};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    int *out = (int *)CMSG_DATA(cmsg);
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value v;
      int32_t n;
      napi_get_element(env, argv[2], i, &v);
      if (!zt_arg_int32(env, v, &n)) return NULL;
      memcpy(out + i, &n, sizeof n);
    }
  }
  ssize_t sent;
  do {
    sent = sendmsg(fd, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return null_value(env);
    return zt_throw_errno(env, errno, "sendmsg");
  }
  return int_value(env, (int)sent);
}

// recvMsg(fd, maxBytes, maxFds) -> {data, fds, truncated, fdsTruncated} | null (nothing queued).
// End of stream reads as an empty message without fds.
static napi_value recv_msg(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, max_bytes, max_fds;
  if (!zt_get_args(env, info, 3, argv) || !zt_arg_int32(env, argv[0], &fd) ||
      !zt_arg_int32(env, argv[1], &max_bytes) || !zt_arg_int32(env, argv[2], &max_fds))
    return NULL;
  if (max_bytes < 0 || max_bytes > (1 << 24) || max_fds < 0 || max_fds > ZT_MAX_FDS)
    return zt_throw_arg(env, "zt_native: maxBytes must be 0..16 MiB and maxFds 0..253");
  char *buf = malloc(max_bytes > 0 ? (size_t)max_bytes : 1);
  if (buf == NULL) return zt_throw_errno(env, ENOMEM, "recvmsg");
  union {
    char buf[CMSG_SPACE(sizeof(int) * ZT_MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct iovec iov = {.iov_base = buf, .iov_len = (size_t)max_bytes};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (max_fds > 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)max_fds);
  }
  ssize_t got;
  do {
    got = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    int err = errno;
    free(buf);
    if (err == EAGAIN || err == EWOULDBLOCK) return null_value(env);
    return zt_throw_errno(env, err, "recvmsg");
  }
  napi_value out, data, fds, v;
  napi_create_object(env, &out);
  napi_create_buffer_copy(env, (size_t)got, buf, NULL, &data);
  free(buf);
  napi_set_named_property(env, out, "data", data);
  napi_create_array(env, &fds);
  uint32_t count = 0;
  for (struct cmsghdr *c = msg.msg_controllen > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c != NULL;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int received;
      memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
      napi_create_int32(env, received, &v);
      napi_set_element(env, fds, count++, v);
    }
  }
  napi_set_named_property(env, out, "fds", fds);
  napi_get_boolean(env, (msg.msg_flags & MSG_TRUNC) != 0, &v);
  napi_set_named_property(env, out, "truncated", v);
  napi_get_boolean(env, (msg.msg_flags & MSG_CTRUNC) != 0, &v);
  napi_set_named_property(env, out, "fdsTruncated", v);
  return out;
}

void zt_init_seqpacket(napi_env env, napi_value exports) {
  zt_set_fn(env, exports, "seqpacketListen", seqpacket_listen);
  zt_set_fn(env, exports, "seqpacketConnect", seqpacket_connect);
  zt_set_fn(env, exports, "seqpacketAccept", seqpacket_accept);
  zt_set_fn(env, exports, "sendMsg", send_msg);
  zt_set_fn(env, exports, "recvMsg", recv_msg);
}
