// Transport security for every gRPC server and client of the project, from one TlsOptions: TLS
// with the server's certificate, mTLS when the server asks for client certificates. Certificates
// and keys are PEM files watched by gRPC's FileWatcherCertificateProvider, so replacing them
// (atomically: write beside, then rename) rotates them without a restart; new connections get the
// new files, established ones keep theirs.
//
// Every process takes the same three settings for gRPC: --tls-ca, --tls-cert, --tls-key (and the
// environment forms ASSENT_TLS_CA, ASSENT_TLS_CERT, ASSENT_TLS_KEY); a process that also serves
// HTTPS names those --http-tls-cert/--http-tls-key.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace assent::rpc {

enum class ClientAuth {
  kNone,      // no client certificate asked for (TLS only; callers may use bearer tokens)
  kOptional,  // asked for and verified when presented
  kRequire,   // required and verified (mTLS)
};

struct TlsOptions {
  // PEM bundle of the certificate authorities trusted for the peer's certificate: a server
  // verifies client certificates with it, a client the server's certificate (empty on a client:
  // the system's trust store). Default empty.
  std::string ca_file;
  // PEM certificate chain and private key of this process: a server's are required for TLS; a
  // client presents its own for mTLS. The key file must not be readable by others. Default empty.
  std::string cert_file;
  std::string key_file;
  // Servers only: whether client certificates are asked for. Default kRequire (mTLS); ca_file is
  // required unless kNone.
  ClientAuth client_auth = ClientAuth::kRequire;
  // Clients only: the name the server's certificate must carry, when it is not the host of the
  // target address. Default empty: the target's host.
  std::string server_name;
  // Clients only: a file holding a bearer token sent with every call ("authorization: Bearer"),
  // for callers without a client certificate. gRPC sends it only over TLS. The file must not be
  // readable by others. Default empty.
  std::string token_file;
  // How often the files are checked for changes. Default 10s.
  absl::Duration refresh_interval = absl::Seconds(10);

  // True when any file is set: the process speaks TLS.
  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// "require", "optional", "none"; INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<ClientAuth> ParseClientAuth(std::string_view field, std::string_view value);
std::string_view ClientAuthName(ClientAuth auth);

// Fills the empty fields of `options` from ASSENT_TLS_CA, ASSENT_TLS_CERT, ASSENT_TLS_KEY,
// ASSENT_TLS_SERVER_NAME and ASSENT_TOKEN_FILE in `env` ("NAME=value" strings): flags win over the
// environment.
void ApplyTlsEnvironment(const std::vector<std::string>& env, TlsOptions& options);
// The same from the process environment.
void ApplyTlsEnvironment(TlsOptions& options);

// Checks the files before anything serves or dials with them, so that a mistake is an error at
// start rather than failed handshakes later: each file readable and PEM; the key matches the
// certificate; the key file not readable by others; what a server needs present. INVALID_ARGUMENT
// naming the field ("tls.key") and the problem, never the file's content.
absl::Status CheckTlsFiles(const TlsOptions& options, bool server);

// Server credentials: TLS/mTLS from `options` (checked with CheckTlsFiles) when enabled;
// plaintext only when `insecure` is true, otherwise FAILED_PRECONDITION saying how to choose.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const TlsOptions& options, bool insecure);

// Channel credentials: TLS from `options` when enabled (checked), plaintext otherwise; with the
// bearer token of options.token_file (which needs TLS: INVALID_ARGUMENT otherwise).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsOptions& options);

// A channel to `target` with `options`' credentials and `args` (the server name override is
// added to them).
absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const std::string& target,
                                                    const TlsOptions& options,
                                                    grpc::ChannelArguments args = {});

// For benchmark tools: a channel to `target` with TLS from the ASSENT_TLS_* and ASSENT_TOKEN_FILE
// variables (plaintext when none is set). Prints why and exits with status 2 when they are
// unusable.
std::shared_ptr<grpc::Channel> DialFromEnvironmentOrDie(const std::string& target);

}  // namespace assent::rpc
