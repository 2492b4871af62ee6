// A blocking HTTP client over libcurl: one connection cache per HttpClient, reused across
// requests (keep-alive). TLS certificates and host names are verified (libcurl's default) against
// the system store or a CA file; plain http:// is refused unless explicitly allowed.
//
// Thread safety: one HttpClient per thread (libcurl easy handles are not shared).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace assent::httpclient {

struct ClientOptions {
  // PEM file of the CAs to trust instead of the system store. Default: the system store.
  std::string ca_file;
  // Allow http:// URLs (tests, local development). Default false: https:// only.
  bool allow_insecure_http = false;
  // Whole-request timeout (connect, send, wait for the answer). Default 10 s.
  absl::Duration timeout = absl::Seconds(10);
  // Connect timeout. Default 5 s.
  absl::Duration connect_timeout = absl::Seconds(5);
};

struct Response {
  int status = 0;
  std::string body;  // at most the first 4 KiB
};

// INVALID_ARGUMENT naming `field` unless `url` is https:// (or http:// when allowed) with a host.
absl::Status CheckUrl(const std::string& field, const std::string& url, bool allow_insecure_http);

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` to `url` with `headers` ("Name: value" pairs). Any answer (including 4xx and 5xx)
  // is a Response; UNAVAILABLE for network errors (refused, reset, TLS failure) and
  // DEADLINE_EXCEEDED for a timeout, with libcurl's reason (never the URL, which may hold tokens);
  // INVALID_ARGUMENT for a URL CheckUrl refuses.
  absl::StatusOr<Response> Post(const std::string& url,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                const std::string& body);

 private:
  ClientOptions options_;
  void* curl_;  // CURL*
};

}  // namespace assent::httpclient
