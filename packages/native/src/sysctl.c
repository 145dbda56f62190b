// Writes a network sysctl of another network namespace. /proc/sys/net shows the namespace of the
// thread that opens it, so, as open.c does for sockets, the write happens on a short-lived thread
// of our own that enters the namespace: Node's threads never leave theirs.
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "addon.h"

typedef struct {
  char netns_path[4096];
  int netns_fd;
  char file[512];
  char value[64];
  int err;
  const char *syscall;
} sysctl_job_t;

static void write_sysctl(sysctl_job_t *job) {
  int ns = job->netns_fd;
  if (job->netns_path[0] != '\0') {
    ns = open(job->netns_path, O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      job->err = errno;
      job->syscall = "open(netns)";
      return;
    }
  }
  int rc = setns(ns, CLONE_NEWNET);
  if (rc != 0) {
    job->err = errno;
    job->syscall = "setns";
  }
  if (ns != job->netns_fd) close(ns);
  if (rc != 0) return;
  int fd = open(job->file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    job->err = errno;
    job->syscall = "open(sysctl)";
    return;
  }
  size_t len = strlen(job->value);
  if (write(fd, job->value, len) != (ssize_t)len) {
    job->err = errno ? errno : EIO;
    job->syscall = "write(sysctl)";
  }
  close(fd);
}

static void *thread_main(void *arg) {
  write_sysctl((sysctl_job_t *)arg);
  return NULL;
}

// A name is dot-separated words of [a-z0-9_-] under net.: nothing that could walk out of /proc/sys/net.
static bool valid_name(const char *name) {
  if (strncmp(name, "net.", 4) != 0) return false;
  char prev = '.';
  for (const char *p = name; *p; p++) {
    char c = *p;
    bool word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!word && c != '.') return false;
    if (c == '.' && prev == '.') return false;
    prev = c;
  }
  return prev != '.';
}

// setNetnsSysctl(netnsPath, netnsFd, name, value): netnsPath "" means use netnsFd.
static napi_value set_netns_sysctl(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!zt_get_args(env, info, 4, argv)) return NULL;
  sysctl_job_t job;
  memset(&job, 0, sizeof job);
  char name[400];
  if (!zt_arg_string(env, argv[0], job.netns_path, sizeof job.netns_path)) return NULL;
  if (!zt_arg_int32(env, argv[1], &job.netns_fd)) return NULL;
  if (!zt_arg_string(env, argv[2], name, sizeof name)) return NULL;
  if (!zt_arg_string(env, argv[3], job.value, sizeof job.value)) return NULL;
  if (!valid_name(name)) return zt_throw_arg(env, "zt_native: the sysctl name must be net.<words>");
  if (job.netns_path[0] == '\0' && job.netns_fd < 0)
    return zt_throw_arg(env, "zt_native: a netns path or fd is required");
  strcpy(job.file, "/proc/sys/");
  size_t at = strlen(job.file);
  for (const char *p = name; *p; p++) job.file[at++] = *p == '.' ? '/' : *p;
  job.file[at] = '\0';

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, thread_main, &job);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) return zt_throw_errno(env, rc, "pthread_create");
  pthread_join(thread, NULL);
  if (job.err != 0) return zt_throw_errno(env, job.err, job.syscall);
  return NULL;
}

void zt_init_sysctl(napi_env env, napi_value exports) {
  zt_set_fn(env, exports, "setNetnsSysctl", set_netns_sysctl);
}
