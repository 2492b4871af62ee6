#include "sender/client_tls.h"

#include "common/status_macros.h"

namespace assent::sender {

std::vector<SettingSpec> ClientTlsSpecs() {
  return {
      {"tls.ca", "",
       "CA bundle consentd's certificate is verified against; turns TLS on (else ASSENT_TLS_CA)"},
      {"tls.cert", "", "client certificate for mTLS to consentd (else ASSENT_TLS_CERT)"},
      {"tls.key", "", "its private key (else ASSENT_TLS_KEY)"},
      {"tls.server_name", "", "the name consentd's certificate carries, when not its host"},
      {"token_file", "", "bearer token for consentd, over TLS only (else ASSENT_TOKEN_FILE)"},
  };
}

absl::StatusOr<rpc::TlsOptions> ReadClientTls(const Settings& settings) {
  rpc::TlsOptions tls;
  tls.ca_file = settings.String("tls.ca");
  tls.cert_file = settings.String("tls.cert");
  tls.key_file = settings.String("tls.key");
  tls.server_name = settings.String("tls.server_name");
  tls.token_file = settings.String("token_file");
  rpc::ApplyTlsEnvironment(tls);
  if (tls.enabled() || !tls.token_file.empty()) {
    RETURN_IF_ERROR(rpc::ChannelCredentials(tls).status());
  }
  return tls;
}

}  // namespace assent::sender
