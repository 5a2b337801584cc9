// SHA-256 from OpenSSL's libcrypto, which uses the CPU's SHA extensions (SHA-NI) or AVX2 —
// several times faster than libsodium's portable C on the Merkle and verify paths. The
// low-level SHA256_* API is deprecated in OpenSSL 3 in favour of EVP, whose per-call dispatch
// costs more than hashing a 65-byte Merkle node; it remains supported and accelerated.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
