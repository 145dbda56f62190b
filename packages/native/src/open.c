// Creates TCP sockets (listening or connecting) and bound UDP sockets with the options zt needs set
// before bind/connect, optionally inside another network namespace. setns(CLONE_NEWNET) changes only the calling
// thread, and a socket stays in the namespace it was created in, so the namespace switch happens
// on a short-lived thread of our own: Node's threads never leave their namespace.
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

typedef struct {
  // input
  bool listen;
  bool udp;  // a bound datagram socket (listen is ignored)
  char netns_path[4096];
  int netns_fd;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  bool has_local;
  struct sockaddr_storage local;
  socklen_t local_len;
  int backlog;
  bool reuse_addr, reuse_port, transparent, freebind;
  int64_t mark;    // -1: leave unset
  int ipv6_only;   // -1: kernel default
  // output
  int fd;
  bool pending;
  int err;
  const char *syscall;
} open_job_t;

static void fail(open_job_t *job, const char *syscall) {
  job->err = errno;
  job->syscall = syscall;
}

static bool set_int(open_job_t *job, int level, int name, int value, const char *syscall) {
  if (setsockopt(job->fd, level, name, &value, sizeof value) == 0) return true;
  fail(job, syscall);
  return false;
}

static unsigned local_port_of(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)ss)->sin_port);
  if (ss->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
  return 0;
}

static void open_socket(open_job_t *job) {
  job->fd = -1;
  if (job->netns_path[0] != '\0' || job->netns_fd >= 0) {
    int ns = job->netns_fd;
    if (job->netns_path[0] != '\0') {
      ns = open(job->netns_path, O_RDONLY | O_CLOEXEC);
      if (ns < 0) return fail(job, "open(netns)");
    }
    int rc = setns(ns, CLONE_NEWNET);
    if (rc != 0) fail(job, "setns");
    if (ns != job->netns_fd) close(ns);
    if (rc != 0) return;
  }
  int family = job->addr.ss_family;
  job->fd = socket(family, (job->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (job->fd < 0) return fail(job, "socket");
  bool v6 = family == AF_INET6;
  bool ok = true;
  if (ok && job->reuse_addr) ok = set_int(job, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
  if (ok && job->reuse_port) ok = set_int(job, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)");
  if (ok && job->mark >= 0) ok = set_int(job, SOL_SOCKET, SO_MARK, (int)(uint32_t)job->mark, "setsockopt(SO_MARK)");
  if (ok && job->transparent)
    ok = v6 ? set_int(job, SOL_IPV6, IPV6_TRANSPARENT, 1, "setsockopt(IPV6_TRANSPARENT)")
            : set_int(job, SOL_IP, IP_TRANSPARENT, 1, "setsockopt(IP_TRANSPARENT)");
  if (ok && job->freebind) ok = set_int(job, SOL_IP, IP_FREEBIND, 1, "setsockopt(IP_FREEBIND)");
  if (ok && v6 && job->ipv6_only >= 0)
    ok = set_int(job, SOL_IPV6, IPV6_V6ONLY, job->ipv6_only, "setsockopt(IPV6_V6ONLY)");
  if (ok && job->udp) {
    if (bind(job->fd, (struct sockaddr *)&job->addr, job->addr_len) != 0) {
      fail(job, "bind");
      ok = false;
    }
  } else if (ok && job->listen) {
    if (bind(job->fd, (struct sockaddr *)&job->addr, job->addr_len) != 0) {
      fail(job, "bind");
      ok = false;
    } else if (listen(job->fd, job->backlog) != 0) {
      fail(job, "listen");
      ok = false;
    }
  } else if (ok) {
    // A source address with port 0 (original source, a pod's IP): leave the port to connect(),
    // which picks one unique for the 4-tuple, instead of bind() searching the ephemeral range
    // for a port no socket holds (TIME_WAIT ones included), which grows costly under connection
    // churn. Best effort: a kernel without it (before 4.2) binds as before.
    if (job->has_local && local_port_of(&job->local) == 0) {
      int one = 1;
      (void)setsockopt(job->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    }
    if (job->has_local && bind(job->fd, (struct sockaddr *)&job->local, job->local_len) != 0) {
      fail(job, "bind");
      ok = false;
    } else if (connect(job->fd, (struct sockaddr *)&job->addr, job->addr_len) != 0) {
      if (errno == EINPROGRESS) {
        job->pending = true;
      } else {
        fail(job, "connect");
        ok = false;
      }
    }
  }
  if (!ok) {
    close(job->fd);
    job->fd = -1;
  }
}

static void *thread_main(void *arg) {
  open_socket((open_job_t *)arg);
  return NULL;
}

// Runs the job on a fresh thread (with every signal blocked, so none is delivered there) and waits.
static int run_in_thread(open_job_t *job) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, thread_main, job);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) return rc;
  return pthread_join(thread, NULL);
}

static bool get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  napi_has_named_property(env, obj, key, &has);
  if (!has) return false;
  napi_get_named_property(env, obj, key, out);
  napi_valuetype t;
  napi_typeof(env, *out, &t);
  return t != napi_undefined && t != napi_null;
}

// openSocket(spec) -> {fd, pending}. spec: {listen, udp?, address, port, localAddress?, localPort?,
// backlog?, reuseAddr?, reusePort?, mark?, transparent?, freebind?, ipv6Only?, netnsPath?, netnsFd?}
static napi_value open_socket_js(napi_env env, napi_callback_info info) {
  napi_value argv[1], v;
  if (!zt_get_args(env, info, 1, argv)) return NULL;
  napi_value spec = argv[0];
  open_job_t job;
  memset(&job, 0, sizeof job);
  job.netns_fd = -1;
  job.mark = -1;
  job.ipv6_only = -1;
  job.backlog = 511;
  char address[64];
  int32_t port = 0, n;
  bool b;
  if (!get_prop(env, spec, "address", &v)) return zt_throw_arg(env, "zt_native: address is required");
  if (!zt_arg_string(env, v, address, sizeof address)) return NULL;
  if (get_prop(env, spec, "port", &v) && !zt_arg_int32(env, v, &port)) return NULL;
  if (!zt_parse_sockaddr(address, port, &job.addr, &job.addr_len))
    return zt_throw_arg(env, "zt_native: address must be a numeric IPv4 or IPv6 address and port 0-65535");
  if (get_prop(env, spec, "listen", &v)) {
    if (!zt_arg_bool(env, v, &b)) return NULL;
    job.listen = b;
  }
  if (get_prop(env, spec, "udp", &v)) {
    if (!zt_arg_bool(env, v, &b)) return NULL;
    job.udp = b;
  }
  if (get_prop(env, spec, "localAddress", &v)) {
    char local[64];
    int32_t local_port = 0;
    if (!zt_arg_string(env, v, local, sizeof local)) return NULL;
    if (get_prop(env, spec, "localPort", &v) && !zt_arg_int32(env, v, &local_port)) return NULL;
    if (!zt_parse_sockaddr(local, local_port, &job.local, &job.local_len))
      return zt_throw_arg(env, "zt_native: localAddress must be a numeric IP address and localPort 0-65535");
    if (job.local.ss_family != job.addr.ss_family)
      return zt_throw_arg(env, "zt_native: localAddress and address must be of the same family");
    job.has_local = true;
  }
  if (get_prop(env, spec, "backlog", &v)) {
    if (!zt_arg_int32(env, v, &n)) return NULL;
    job.backlog = n;
  }
  if (get_prop(env, spec, "mark", &v)) {
    if (napi_get_value_int64(env, v, &job.mark) != napi_ok || job.mark < 0 || job.mark > 0xffffffffLL)
      return zt_throw_arg(env, "zt_native: mark must be an integer 0..2^32-1");
  }
  if (get_prop(env, spec, "ipv6Only", &v)) {
    if (!zt_arg_bool(env, v, &b)) return NULL;
    job.ipv6_only = b ? 1 : 0;
  }
  struct {
    const char *key;
    bool *dst;
  } flags[] = {{"reuseAddr", &job.reuse_addr},
               {"reusePort", &job.reuse_port},
               {"transparent", &job.transparent},
               {"freebind", &job.freebind}};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
    if (get_prop(env, spec, flags[i].key, &v) && !zt_arg_bool(env, v, flags[i].dst)) return NULL;
  }
  if (get_prop(env, spec, "netnsPath", &v) && !zt_arg_string(env, v, job.netns_path, sizeof job.netns_path))
    return NULL;
  if (get_prop(env, spec, "netnsFd", &v) && !zt_arg_int32(env, v, &job.netns_fd)) return NULL;

  if (job.netns_path[0] != '\0' || job.netns_fd >= 0) {
    int rc = run_in_thread(&job);
    if (rc != 0) return zt_throw_errno(env, rc, "pthread_create");
  } else {
    open_socket(&job);
  }
  if (job.fd < 0) return zt_throw_errno(env, job.err, job.syscall);
  napi_value out;
  napi_create_object(env, &out);
  napi_create_int32(env, job.fd, &v);
  napi_set_named_property(env, out, "fd", v);
  napi_get_boolean(env, job.pending, &v);
  napi_set_named_property(env, out, "pending", v);
  return out;
}

void zt_init_open(napi_env env, napi_value exports) { zt_set_fn(env, exports, "openSocket", open_socket_js); }
