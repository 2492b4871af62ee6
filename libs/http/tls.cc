#include "http/tls.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace assent::http::internal {
namespace {

// PEM files larger than this are not certificates or keys.
constexpr size_t kMaxPemBytes = 1 << 20;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

// The contents of `path`; wiped when it goes away (it may hold a private key).
class Secret {
 public:
  ~Secret() { OPENSSL_cleanse(data_.data(), data_.size()); }
  std::string& data() { return data_; }

 private:
  std::string data_;
};

absl::Status ReadPem(const std::string& field, const std::string& path, Secret& out) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return InvalidField(field, absl::StrCat("cannot read \"", path, "\": ", std::strerror(errno)));
  }
  std::string& data = out.data();
  data.resize(kMaxPemBytes + 1);
  size_t size = 0;
  while (size < data.size()) {
    const ssize_t n = read(fd, data.data() + size, data.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return InvalidField(field,
                          absl::StrCat("cannot read \"", path, "\": ", std::strerror(error)));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  close(fd);
  if (size > kMaxPemBytes) {
    return InvalidField(field, absl::StrCat("\"", path, "\" is larger than ", kMaxPemBytes,
                                            " bytes; not a PEM file"));
  }
  data.resize(size);
  return absl::OkStatus();
}

BioPtr MemoryBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Never prompts for a passphrase on the terminal (OpenSSL's default for encrypted keys).
int NoPassphrase(char*, int, int, void*) { return 0; }

}  // namespace

absl::StatusOr<TlsCredentials> LoadTlsCredentials(const std::string& cert_file,
                                                  const std::string& key_file) {
  TlsCredentials credentials;
  {
    Secret pem;
    if (absl::Status s = ReadPem("tls_cert_file", cert_file, pem); !s.ok()) return s;
    BioPtr bio = MemoryBio(pem.data());
    credentials.certificate.reset(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    while (credentials.certificate != nullptr) {
      X509Ptr next(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
      if (next == nullptr) break;
      credentials.chain.push_back(std::move(next));
    }
  }
  ERR_clear_error();  // the end of the chain reads as an error
  if (credentials.certificate == nullptr) {
    return InvalidField("tls_cert_file", absl::StrCat("no PEM certificate in \"", cert_file, "\""));
  }
  {
    Secret pem;
    if (absl::Status s = ReadPem("tls_key_file", key_file, pem); !s.ok()) return s;
    BioPtr bio = MemoryBio(pem.data());
    credentials.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  }
  ERR_clear_error();
  if (credentials.key == nullptr) {
    return InvalidField("tls_key_file",
                        absl::StrCat("no unencrypted PEM private key in \"", key_file, "\""));
  }
  if (X509_check_private_key(credentials.certificate.get(), credentials.key.get()) != 1) {
    ERR_clear_error();
    return InvalidField("tls_key_file", absl::StrCat("the key in \"", key_file,
                                                     "\" does not belong to the certificate in \"",
                                                     cert_file, "\""));
  }
  return credentials;
}

bool ConfigureTls(SSL_CTX& ctx, const TlsCredentials& credentials) {
  bool ok = SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) == 1;
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  ok = ok && SSL_CTX_use_certificate(&ctx, credentials.certificate.get()) == 1;
  for (const X509Ptr& cert : credentials.chain) {
    ok = ok && SSL_CTX_add1_chain_cert(&ctx, cert.get()) == 1;
  }
  ok = ok && SSL_CTX_use_PrivateKey(&ctx, credentials.key.get()) == 1;
  ok = ok && SSL_CTX_check_private_key(&ctx) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace assent::http::internal
