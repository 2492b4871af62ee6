// SHA-256 and HMAC-SHA256 (OpenSSL), the one place Assent calls them for ids, keyed hashes and
// tokens. Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace assent {

// The 32-byte SHA-256 digest of `data`.
std::string Sha256(std::string_view data);
// Lower-case hex of Sha256(data), 64 characters.
std::string Sha256Hex(std::string_view data);
// SHA-256 over data fed in pieces (a file read in chunks). Not thread-safe; one per digest.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void Update(std::string_view data);
  // The 32-byte digest of everything fed so far; the stream is finished afterwards.
  std::string Finish();

 private:
  void* ctx_;  // EVP_MD_CTX, kept out of this header so only digest.cc includes OpenSSL.
};

// The 32-byte HMAC-SHA256 of `data` under `key` (an empty key is allowed).
std::string HmacSha256(std::string_view key, std::string_view data);
// `n` bytes from OpenSSL's CSPRNG (nonces, form tokens, secrets). Aborts if it fails, which
// OpenSSL documents only for an unseeded generator.
std::string RandomBytes(size_t n);

}  // namespace assent
