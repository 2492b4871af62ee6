#include "rpc/tls.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace assent::rpc {
namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

absl::StatusOr<std::unique_ptr<FILE, FileCloser>> OpenPem(std::string_view field,
                                                          const std::string& path) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "r"));
  if (f == nullptr) return InvalidField(field, absl::StrCat("cannot read ", path));
  return f;
}

// The first certificate of a PEM file, and how many it holds.
absl::StatusOr<std::unique_ptr<X509, X509Free>> ReadCertificates(std::string_view field,
                                                                 const std::string& path) {
  ASSIGN_OR_RETURN(auto f, OpenPem(field, path));
  std::unique_ptr<X509, X509Free> first(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  if (first == nullptr) {
    return InvalidField(field, absl::StrCat(path, " holds no PEM certificate"));
  }
  return first;
}

// Keys are read without a passphrase; without this callback OpenSSL would prompt on a terminal.
int NoPassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

int CertRequestType(ClientAuth auth) {
  switch (auth) {
    case ClientAuth::kNone:
      return GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
    case ClientAuth::kOptional:
      return GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
    case ClientAuth::kRequire:
      break;
  }
  return GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
}

unsigned RefreshSeconds(const TlsOptions& options) {
  const int64_t seconds = absl::ToInt64Seconds(options.refresh_interval);
  return static_cast<unsigned>(seconds < 1 ? 1 : seconds);
}

std::shared_ptr<grpc::experimental::CertificateProviderInterface> Provider(
    const TlsOptions& options) {
  using grpc::experimental::FileWatcherCertificateProvider;
  const unsigned refresh = RefreshSeconds(options);
  if (options.cert_file.empty()) {
    return std::make_shared<FileWatcherCertificateProvider>(options.ca_file, refresh);
  }
  if (options.ca_file.empty()) {
    return std::make_shared<FileWatcherCertificateProvider>(options.key_file, options.cert_file,
                                                            refresh);
  }
  return std::make_shared<FileWatcherCertificateProvider>(options.key_file, options.cert_file,
                                                          options.ca_file, refresh);
}

// The bearer token in `path` (surrounding whitespace removed); never echoed in errors.
absl::StatusOr<std::string> ReadToken(const std::string& path) {
  RETURN_IF_ERROR(CheckSecretFileMode("token_file", path));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return InvalidField("token_file", absl::StrCat("cannot read ", path));
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (token.empty()) return InvalidField("token_file", absl::StrCat(path, " is empty"));
  return token;
}

}  // namespace

absl::StatusOr<ClientAuth> ParseClientAuth(std::string_view field, std::string_view value) {
  if (value == "require") return ClientAuth::kRequire;
  if (value == "optional") return ClientAuth::kOptional;
  if (value == "none") return ClientAuth::kNone;
  return InvalidField(field,
                      absl::StrCat("must be require, optional or none (got \"", Sv(value), "\")"));
}

std::string_view ClientAuthName(ClientAuth auth) {
  switch (auth) {
    case ClientAuth::kNone:
      return "none";
    case ClientAuth::kOptional:
      return "optional";
    case ClientAuth::kRequire:
      break;
  }
  return "require";
}

void ApplyTlsEnvironment(const std::vector<std::string>& env, TlsOptions& options) {
  auto fill = [&](std::string_view name, std::string& field) {
    if (!field.empty()) return;
    for (const std::string& entry : env) {
      if (entry.size() > name.size() && entry.starts_with(name) && entry[name.size()] == '=') {
        field = entry.substr(name.size() + 1);
      }
    }
  };
  fill("ASSENT_TLS_CA", options.ca_file);
  fill("ASSENT_TLS_CERT", options.cert_file);
  fill("ASSENT_TLS_KEY", options.key_file);
  fill("ASSENT_TLS_SERVER_NAME", options.server_name);
  fill("ASSENT_TOKEN_FILE", options.token_file);
}

void ApplyTlsEnvironment(TlsOptions& options) {
  std::vector<std::string> env;
  for (const char* name : {"ASSENT_TLS_CA", "ASSENT_TLS_CERT", "ASSENT_TLS_KEY",
                           "ASSENT_TLS_SERVER_NAME", "ASSENT_TOKEN_FILE"}) {
    if (const char* value = std::getenv(name); value != nullptr) {
      env.push_back(absl::StrCat(name, "=", value));
    }
  }
  ApplyTlsEnvironment(env, options);
}

absl::Status CheckTlsFiles(const TlsOptions& options, bool server) {
  if (options.cert_file.empty() != options.key_file.empty()) {
    return InvalidField(options.cert_file.empty() ? "tls.cert" : "tls.key",
                        "tls.cert and tls.key are given together");
  }
  if (server && options.cert_file.empty()) {
    return InvalidField("tls.cert", "a TLS server needs its certificate and key");
  }
  if (server && options.client_auth != ClientAuth::kNone && options.ca_file.empty()) {
    return InvalidField("tls.ca", absl::StrCat("client certificates are verified against it "
                                               "(tls.client_auth is ",
                                               Sv(ClientAuthName(options.client_auth)), ")"));
  }
  if (!options.ca_file.empty())
    RETURN_IF_ERROR(ReadCertificates("tls.ca", options.ca_file).status());
  if (options.cert_file.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto cert, ReadCertificates("tls.cert", options.cert_file));
  RETURN_IF_ERROR(CheckSecretFileMode("tls.key", options.key_file));
  ASSIGN_OR_RETURN(auto key_file, OpenPem("tls.key", options.key_file));
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_PrivateKey(key_file.get(), nullptr, NoPassword, nullptr));
  if (key == nullptr) {
    return InvalidField("tls.key",
                        absl::StrCat(options.key_file, " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return InvalidField("tls.key",
                        absl::StrCat("the key in ", options.key_file,
                                     " does not match the certificate in ", options.cert_file));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsOptions& options, bool insecure) {
  if (!options.enabled()) {
    if (insecure) return grpc::InsecureServerCredentials();
    return FailedPrecondition(
        "no TLS configured: give tls.cert and tls.key (and tls.ca for client certificates), or "
        "--insecure to serve plaintext on purpose");
  }
  RETURN_IF_ERROR(CheckTlsFiles(options, /*server=*/true));
  grpc::experimental::TlsServerCredentialsOptions tls(Provider(options));
  tls.watch_identity_key_cert_pairs();
  if (!options.ca_file.empty()) tls.watch_root_certs();
  tls.set_cert_request_type(
      static_cast<grpc_ssl_client_certificate_request_type>(CertRequestType(options.client_auth)));
  return grpc::experimental::TlsServerCredentials(tls);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsOptions& options) {
  if (!options.token_file.empty() && !options.enabled()) {
    return InvalidField("token_file",
                        "a bearer token is sent only over TLS: give tls.ca (the server's CA)");
  }
  if (!options.enabled()) return grpc::InsecureChannelCredentials();
  RETURN_IF_ERROR(CheckTlsFiles(options, /*server=*/false));
  grpc::experimental::TlsChannelCredentialsOptions tls;
  if (!options.ca_file.empty() || !options.cert_file.empty()) {
    tls.set_certificate_provider(Provider(options));
  }
  if (!options.ca_file.empty()) tls.watch_root_certs();
  if (!options.cert_file.empty()) tls.watch_identity_key_cert_pairs();
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::experimental::TlsCredentials(tls);
  if (options.token_file.empty()) return credentials;
  ASSIGN_OR_RETURN(std::string token, ReadToken(options.token_file));
  return grpc::CompositeChannelCredentials(credentials, grpc::AccessTokenCredentials(token));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const std::string& target,
                                                    const TlsOptions& options,
                                                    grpc::ChannelArguments args) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                   ChannelCredentials(options));
  if (options.enabled() && !options.server_name.empty()) {
    args.SetSslTargetNameOverride(options.server_name);
  }
  return grpc::CreateCustomChannel(target, credentials, args);
}

std::shared_ptr<grpc::Channel> DialFromEnvironmentOrDie(const std::string& target) {
  TlsOptions options;
  ApplyTlsEnvironment(options);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Dial(target, options);
  if (!channel.ok()) {
    std::fprintf(stderr, "%s\n", channel.status().ToString().c_str());
    std::exit(2);
  }
  return *std::move(channel);
}

}  // namespace assent::rpc
