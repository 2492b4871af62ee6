#include "metrics/http_server.h"

#include <sstream>

#include "CivetServer.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

namespace assent::metrics {
namespace {

void Reply(mg_connection* conn, int status, std::string_view content_type, std::string_view body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %.*s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, status == 200 ? "OK" : "Service Unavailable",
            static_cast<int>(content_type.size()), content_type.data(), body.size());
  mg_write(conn, body.data(), body.size());
}

class MetricsHandler final : public CivetHandler {
 public:
  explicit MetricsHandler(std::vector<std::weak_ptr<prometheus::Collectable>> collectables)
      : collectables_(std::move(collectables)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& weak : collectables_) {
      if (auto collectable = weak.lock()) {
        auto collected = collectable->Collect();
        families.insert(families.end(), std::make_move_iterator(collected.begin()),
                        std::make_move_iterator(collected.end()));
      }
    }
    std::ostringstream body;
    prometheus::TextSerializer().Serialize(body, families);
    Reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body.str());
    return true;
  }

 private:
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_;
};

class HealthHandler final : public CivetHandler {
 public:
  bool handleGet(CivetServer*, mg_connection* conn) override {
    Reply(conn, 200, "text/plain", "ok\n");
    return true;
  }
};

class ReadyHandler final : public CivetHandler {
 public:
  explicit ReadyHandler(std::function<Readiness()> readiness) : readiness_(std::move(readiness)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    const Readiness r = readiness_();
    Reply(conn, r.ready ? 200 : 503, "text/plain",
          r.ready ? std::string("ready\n") : absl::StrCat("not ready: ", r.reason, "\n"));
    return true;
  }

 private:
  std::function<Readiness()> readiness_;
};

}  // namespace

struct HttpServer::Handlers {
  std::unique_ptr<MetricsHandler> metrics;
  HealthHandler health;
  std::unique_ptr<ReadyHandler> ready;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& address, std::vector<std::weak_ptr<prometheus::Collectable>> collectables,
    std::function<Readiness()> readiness) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->handlers_ = std::make_unique<Handlers>();
  server->handlers_->metrics = std::make_unique<MetricsHandler>(std::move(collectables));
  server->handlers_->ready = std::make_unique<ReadyHandler>(std::move(readiness));
  const std::vector<std::string> options = {"listening_ports",   address, "num_threads", "2",
                                            "enable_keep_alive", "no"};
  try {
    server->server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: cannot listen on ", address, ": ", e.what()));
  }
  server->server_->addHandler("/metrics", server->handlers_->metrics.get());
  server->server_->addHandler("/healthz", &server->handlers_->health);
  server->server_->addHandler("/readyz", server->handlers_->ready.get());
  const std::vector<int> ports = server->server_->getListeningPorts();
  if (ports.empty()) return absl::UnavailableError("metrics_listen: no listening port");
  server->address_ = absl::StrCat(address.substr(0, address.rfind(':')), ":", ports.front());
  return server;
}

HttpServer::~HttpServer() {
  if (server_ != nullptr) server_->close();
}

}  // namespace assent::metrics
