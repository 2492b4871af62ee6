// The HTTP side of operability: Prometheus's /metrics, and Kubernetes' /healthz (liveness) and
// /readyz (readiness) probes, on their own listen address (civetweb, as prometheus-cpp uses).
//
// Thread safety: handlers run on civetweb's threads; the readiness callback and the collectables
// must be thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "prometheus/collectable.h"

class CivetServer;

namespace assent::metrics {

// The answer of a readiness check: ready, or not with the reason shown in /readyz.
struct Readiness {
  bool ready = false;
  std::string reason;
};

class HttpServer {
 public:
  // Listens on `address` ("host:port"; port 0 picks one). UNAVAILABLE when it cannot bind.
  // `collectables` are scraped in order on every GET /metrics; `readiness` answers /readyz.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& address, std::vector<std::weak_ptr<prometheus::Collectable>> collectables,
      std::function<Readiness()> readiness);
  ~HttpServer();

  // The bound address ("127.0.0.1:PORT").
  const std::string& address() const { return address_; }

 private:
  struct Handlers;
  HttpServer() = default;
  std::unique_ptr<Handlers> handlers_;
  std::unique_ptr<CivetServer> server_;
  std::string address_;
};

}  // namespace assent::metrics
