// A self-signed P-256 certificate for localhost (valid until Nov 10 04:44:01 2126 GMT), for the
// kernel TLS tests: @zt/native sits below @zt/identity, so it cannot use TestCa. Test material only.
export const LOCALHOST_CERT = `-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUZYPuo2zYbr0/p9BxiE5II6ZcvJAwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwNDA0NDQwMVoYDzIxMjYxMTEw
MDQ0NDAxWjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAAQY0jck3STFDhIonVuvihAxxgoP5ytvDwD9wK8oSSdVUuLScz0vFLvr
3DqwBQZvie04rEhEi1fLRXAz9v7tkDwCo2kwZzAdBgNVHQ4EFgQURtP+lzrTfvgn
OqngM/0fdXqkKkswHwYDVR0jBBgwFoAURtP+lzrTfvgnOqngM/0fdXqkKkswDwYD
VR0TAQH/BAUwAwEB/zAUBgNVHREEDTALgglsb2NhbGhvc3QwCgYIKoZIzj0EAwID
SQAwRgIhAOJNByV2gI8YIWJrEehZ7pQy+koxao0060SpdG7lI0OPAiEAlj7eooBk
DO1pRS6C6JOFkaQVNxNssbxi0oY0iEkN44g=
-----END CERTIFICATE-----`;

export const LOCALHOST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQguQTrlI4+amp+Kabw
040w6iDb2lF/iBnBu14HhykgjmShRANCAAQY0jck3STFDhIonVuvihAxxgoP5ytv
DwD9wK8oSSdVUuLScz0vFLvr3DqwBQZvie04rEhEi1fLRXAz9v7tkDwC
-----END PRIVATE KEY-----`;
