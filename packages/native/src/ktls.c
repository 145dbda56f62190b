// Kernel TLS (bench spike, issue #21 §7): after a TLS 1.3 handshake done in userspace, hand the
// record layer of one direction to the kernel. The kernel then encrypts what write() sends
// (TLS_TX) or decrypts what read() returns (TLS_RX) on the same TCP fd. Needs a kernel built with
// CONFIG_TLS (module "tls"); without it TCP_ULP "tls" fails with ENOENT.
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "addon.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#ifndef TCP_ULP
#define TCP_ULP 31
#endif

// setTcpUlp(fd, name): attaches an upper-layer protocol ("tls") to an established TCP socket.
static napi_value set_tcp_ulp(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  char name[16];
  if (!zt_get_args(env, info, 2, argv) || !zt_arg_int32(env, argv[0], &fd) ||
      !zt_arg_string(env, argv[1], name, sizeof name))
    return NULL;
  if (setsockopt(fd, SOL_TCP, TCP_ULP, name, strlen(name)) != 0)
    return zt_throw_errno(env, errno, "setsockopt(TCP_ULP)");
  return NULL;
}

static bool arg_buffer(napi_env env, napi_value v, size_t want, const uint8_t **out) {
  void *data;
  size_t size;
  bool is_buffer = false;
  if (napi_is_buffer(env, v, &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, v, &data, &size) != napi_ok || size != want) {
    zt_throw_arg(env, "key, iv and sequence must be Buffers of the cipher's lengths");
    return false;
  }
  *out = data;
  return true;
}

// setTlsCrypto(fd, tx, cipher, key, iv, seq): cipher is 51 (AES-GCM-128), 52 (AES-GCM-256) or 54
// (ChaCha20-Poly1305); iv is TLS 1.3's 12-byte write IV, seq the 8-byte big-endian number of the
// next record. For AES-GCM the kernel takes the IV's first 4 bytes as "salt" and the other 8 as
// "iv"; for ChaCha20 all 12 are "iv".
static napi_value set_tls_crypto(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int32_t fd, cipher;
  bool tx;
  if (!zt_get_args(env, info, 6, argv) || !zt_arg_int32(env, argv[0], &fd) ||
      !zt_arg_bool(env, argv[1], &tx) || !zt_arg_int32(env, argv[2], &cipher))
    return NULL;
  const uint8_t *key, *iv, *seq;
  union {
    struct tls12_crypto_info_aes_gcm_128 aes128;
    struct tls12_crypto_info_aes_gcm_256 aes256;
    struct tls12_crypto_info_chacha20_poly1305 chacha;
  } ci;
  memset(&ci, 0, sizeof ci);
  socklen_t len;
  if (cipher == TLS_CIPHER_AES_GCM_128) {
    if (!arg_buffer(env, argv[3], TLS_CIPHER_AES_GCM_128_KEY_SIZE, &key) ||
        !arg_buffer(env, argv[4], 12, &iv) || !arg_buffer(env, argv[5], 8, &seq))
      return NULL;
    ci.aes128.info.version = TLS_1_3_VERSION;
    ci.aes128.info.cipher_type = TLS_CIPHER_AES_GCM_128;
    memcpy(ci.aes128.key, key, sizeof ci.aes128.key);
    memcpy(ci.aes128.salt, iv, sizeof ci.aes128.salt);
    memcpy(ci.aes128.iv, iv + 4, sizeof ci.aes128.iv);
    memcpy(ci.aes128.rec_seq, seq, sizeof ci.aes128.rec_seq);
    len = sizeof ci.aes128;
  } else if (cipher == TLS_CIPHER_AES_GCM_256) {
    if (!arg_buffer(env, argv[3], TLS_CIPHER_AES_GCM_256_KEY_SIZE, &key) ||
        !arg_buffer(env, argv[4], 12, &iv) || !arg_buffer(env, argv[5], 8, &seq))
      return NULL;
    ci.aes256.info.version = TLS_1_3_VERSION;
    ci.aes256.info.cipher_type = TLS_CIPHER_AES_GCM_256;
    memcpy(ci.aes256.key, key, sizeof ci.aes256.key);
    memcpy(ci.aes256.salt, iv, sizeof ci.aes256.salt);
    memcpy(ci.aes256.iv, iv + 4, sizeof ci.aes256.iv);
    memcpy(ci.aes256.rec_seq, seq, sizeof ci.aes256.rec_seq);
    len = sizeof ci.aes256;
  } else if (cipher == TLS_CIPHER_CHACHA20_POLY1305) {
    if (!arg_buffer(env, argv[3], TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE, &key) ||
        !arg_buffer(env, argv[4], 12, &iv) || !arg_buffer(env, argv[5], 8, &seq))
      return NULL;
    ci.chacha.info.version = TLS_1_3_VERSION;
    ci.chacha.info.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
    memcpy(ci.chacha.key, key, sizeof ci.chacha.key);
    memcpy(ci.chacha.iv, iv, sizeof ci.chacha.iv);
    memcpy(ci.chacha.rec_seq, seq, sizeof ci.chacha.rec_seq);
    len = sizeof ci.chacha;
  } else {
    return zt_throw_arg(env, "cipher must be 51 (AES-GCM-128), 52 (AES-GCM-256) or 54 (ChaCha20-Poly1305)");
  }
  int rc = setsockopt(fd, SOL_TLS, tx ? TLS_TX : TLS_RX, &ci, len);
  // The struct holds the traffic key: do not leave it on the stack.
  explicit_bzero(&ci, sizeof ci);
  if (rc != 0) return zt_throw_errno(env, errno, tx ? "setsockopt(TLS_TX)" : "setsockopt(TLS_RX)");
  return NULL;
}

// recvSome(fd, buffer, length) -> bytes read into buffer's start (0 at EOF), or null when nothing
// is queued. Reads at most `length`: the handoff finishes a record Node's read stopped inside of,
// and must not take a byte past it before the kernel parses the rest.
static napi_value recv_some(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, length;
  if (!zt_get_args(env, info, 3, argv) || !zt_arg_int32(env, argv[0], &fd) ||
      !zt_arg_int32(env, argv[2], &length))
    return NULL;
  void *data;
  size_t size;
  bool is_buffer = false;
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer ||
      napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok || length < 0 || (size_t)length > size)
    return zt_throw_arg(env, "buffer must be a Buffer of at least length bytes");
  ssize_t n;
  do {
    n = recv(fd, data, (size_t)length, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  napi_value out;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_get_null(env, &out);
      return out;
    }
    return zt_throw_errno(env, errno, "recv");
  }
  napi_create_int32(env, (int32_t)n, &out);
  return out;
}

void zt_init_ktls(napi_env env, napi_value exports) {
  zt_set_fn(env, exports, "setTcpUlp", set_tcp_ulp);
  zt_set_fn(env, exports, "setTlsCrypto", set_tls_crypto);
  zt_set_fn(env, exports, "recvSome", recv_some);
}
