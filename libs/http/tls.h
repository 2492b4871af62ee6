// Internal to assent_http (server.cc): the server's certificate chain and private key, read from
// PEM files with errors that name the option, and an SSL_CTX set up from them.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace assent::http::internal {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;

struct TlsCredentials {
  X509Ptr certificate;         // the server's own, first in tls_cert_file
  std::vector<X509Ptr> chain;  // intermediates that follow it
  EvpPkeyPtr key;
};

// Loads both files. INVALID_ARGUMENT naming "tls_cert_file" or "tls_key_file" (and the path, never
// the contents) when a file cannot be read, holds no PEM certificate or unencrypted private key,
// or the key does not belong to the certificate.
absl::StatusOr<TlsCredentials> LoadTlsCredentials(const std::string& cert_file,
                                                  const std::string& key_file);

// Configures a server context: TLS 1.2 or later, no compression or renegotiation, `credentials`.
// False when OpenSSL refuses one of them.
bool ConfigureTls(SSL_CTX& ctx, const TlsCredentials& credentials);

}  // namespace assent::http::internal
