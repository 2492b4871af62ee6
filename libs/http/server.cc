#include "http/server.h"

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "http/request_guard.h"
#include "http/response.h"
#include "http/tls.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace assent::http {
namespace {

// Requests served on one keep-alive connection before it is closed.
constexpr size_t kKeepAliveMaxRequests = 1000;

using internal::ErrorBody;
using internal::kTextPlain;

using SteadyClock = std::chrono::steady_clock;

constexpr int kMaxThreads = 1024;

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto* log = new std::shared_ptr<spdlog::logger>([] {
    auto existing = spdlog::get("http");
    return existing != nullptr ? existing : spdlog::stderr_logger_mt("http");
  }());
  return *log;
}

// The request a worker thread is serving: started by the pre-routing hook, named by the handler
// httplib dispatches it to, recorded by the post-routing hook when the response is ready. httplib
// serves a request start to finish on one thread, and one thread serves one request at a time.
struct InFlight {
  const void* server = nullptr;
  std::string_view route;  // "" until dispatched to a route
  SteadyClock::time_point start;
};
thread_local InFlight in_flight;

struct HostPort {
  std::string host;  // without brackets
  int port = 0;
};

absl::StatusOr<HostPort> ParseListen(const std::string& listen) {
  const auto bad = [&](std::string_view why) {
    return InvalidField("listen", absl::StrCat(Sv(why), ": \"", listen, "\""));
  };
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return bad("must be host:port");
  HostPort out;
  std::string_view host = std::string_view(listen).substr(0, colon);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("an IPv6 host must be in brackets");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 host must be in brackets");
  }
  if (host.empty()) return bad("missing host (0.0.0.0 or [::] for all interfaces)");
  const std::string_view port = std::string_view(listen).substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string_view::npos ||
      !absl::SimpleAtoi(Sv(port), &out.port) || out.port > 65535) {
    return bad("port must be 0 to 65535");
  }
  out.host = std::string(host);
  return out;
}

absl::Status ValidateLimits(const ServerOptions& options) {
  if (options.max_body_bytes == 0) return InvalidField("max_body_bytes", "must be positive");
  if (options.threads < 1 || options.threads > kMaxThreads) {
    return InvalidField("threads", absl::StrCat("must be 1 to ", kMaxThreads));
  }
  const std::pair<const char*, absl::Duration> timeouts[] = {
      {"read_timeout", options.read_timeout},
      {"write_timeout", options.write_timeout},
      {"idle_timeout", options.idle_timeout}};
  for (const auto& [field, timeout] : timeouts) {
    if (timeout <= absl::ZeroDuration() || timeout > absl::Hours(1)) {
      return InvalidField(field, "must be positive and at most an hour");
    }
  }
  if (options.server_name.empty()) return InvalidField("server_name", "must not be empty");
  return absl::OkStatus();
}

std::string JoinHostPort(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    if (method == known) return known;
  }
  return "other";  // the method is whatever the client wrote: keep the label set bounded
}

}  // namespace

struct Server::Route {
  std::string name;
  Handler handler;
};

class Server::Metrics {
 public:
  Metrics(prometheus::Registry& registry, std::string server)
      : server_(std::move(server)),
        requests_(prometheus::BuildCounter()
                      .Name("assent_http_requests_total")
                      .Help("HTTP requests answered, by server, route, method and status code.")
                      .Register(registry)),
        duration_(
            prometheus::BuildHistogram()
                .Name("assent_http_request_duration_seconds")
                .Help("Time from a request's headers to its response ready to send, by route.")
                .Register(registry)) {}

  // `duration` is unknown for requests refused before routing (unparsable ones).
  void Observe(std::string_view route, std::string_view method, int status,
               std::optional<absl::Duration> duration) {
    requests_
        .Add({{"server", server_},
              {"route", std::string(route)},
              {"method", std::string(MethodLabel(method))},
              {"code", absl::StrCat(status)}})
        .Increment();
    if (duration.has_value()) {
      static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
          0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
      duration_.Add({{"server", server_}, {"route", std::string(route)}}, *buckets)
          .Observe(absl::ToDoubleSeconds(*duration));
    }
  }

 private:
  const std::string server_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(ServerOptions options,
                                                       prometheus::Registry* registry) {
  ASSIGN_OR_RETURN(HostPort listen, ParseListen(options.listen));
  RETURN_IF_ERROR(ValidateLimits(options));
  ASSIGN_OR_RETURN(TrustedProxies trusted, TrustedProxies::Parse(options.trusted_proxies));
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    const bool cert_missing = options.tls_cert_file.empty();
    return InvalidField(
        cert_missing ? "tls_cert_file" : "tls_key_file",
        absl::StrCat("must be set with ", cert_missing ? "tls_key_file" : "tls_cert_file",
                     " (both for HTTPS, neither for HTTP)"));
  }
  std::unique_ptr<httplib::Server> http;
  if (!options.tls_cert_file.empty()) {
    ASSIGN_OR_RETURN(internal::TlsCredentials credentials,
                     internal::LoadTlsCredentials(options.tls_cert_file, options.tls_key_file));
    auto https = std::make_unique<httplib::SSLServer>(
        [&credentials](SSL_CTX& ctx) { return internal::ConfigureTls(ctx, credentials); });
    if (!https->is_valid()) {
      return InvalidField("tls_cert_file", "OpenSSL refused the certificate or its key");
    }
    http = std::move(https);
  } else {
    http = std::make_unique<httplib::Server>();
  }
  auto metrics =
      registry == nullptr ? nullptr : std::make_unique<Metrics>(*registry, options.server_name);
  std::unique_ptr<Server> server(
      new Server(std::move(options), std::move(trusted), std::move(http), std::move(metrics)));
  server->host_ = std::move(listen.host);
  server->requested_port_ = listen.port;
  return server;
}

Server::Server(ServerOptions options, TrustedProxies trusted,
               std::unique_ptr<httplib::Server> server, std::unique_ptr<Metrics> metrics)
    : options_(std::move(options)),
      trusted_(std::move(trusted)),
      metrics_(std::move(metrics)),
      server_(std::move(server)) {
  InstallHooks();
}

Server::~Server() { Stop(); }

Server& Server::Get(std::string route_name, const std::string& pattern, Handler handler) {
  return Add("GET", std::move(route_name), pattern, std::move(handler));
}
Server& Server::Post(std::string route_name, const std::string& pattern, Handler handler) {
  return Add("POST", std::move(route_name), pattern, std::move(handler));
}
Server& Server::Options(std::string route_name, const std::string& pattern, Handler handler) {
  return Add("OPTIONS", std::move(route_name), pattern, std::move(handler));
}

Server& Server::Add(std::string_view method, std::string route_name, const std::string& pattern,
                    Handler handler) {
  {
    absl::MutexLock lock(&mu_);
    if (state_ != State::kCreated || route_name.empty()) {
      Log()->critical(
          "msg=\"route registered after Start() or without a name\" server={} route=\"{}\"",
          options_.server_name, route_name);
      std::abort();
    }
  }
  routes_.push_back(std::make_unique<Route>(Route{std::move(route_name), std::move(handler)}));
  const Route* route = routes_.back().get();
  auto serve = [this, route](const httplib::Request& req, httplib::Response& res) {
    route->handler(
        req, res,
        RequestContext{route->name, ClientAddress(req.remote_addr, req.headers, trusted_)});
  };
  if (method == "POST") {
    // A content-reader handler is dispatched before the body is read, so a body over the limit
    // (413, from the reader) is counted under its route.
    server_->Post(pattern, [route, serve](const httplib::Request& req, httplib::Response& res,
                                          const httplib::ContentReader& read) {
      in_flight.route = route->name;
      if (req.is_multipart_form_data()) {  // the reader would need multipart callbacks
        internal::RejectAndClose(res, 415);
        return;
      }
      std::string body;
      if (!read([&body](const char* data, size_t size) {
            body.append(data, size);
            return true;
          })) {
        return;  // httplib has set 413 or 400
      }
      // Handlers read req.body, which httplib leaves empty for content-reader handlers. The copy's
      // req.matches still point into req.path, which outlives the call.
      httplib::Request with_body = req;
      with_body.body = std::move(body);
      serve(with_body, res);
    });
    return *this;
  }
  httplib::Server::Handler plain = [route, serve](const httplib::Request& req,
                                                  httplib::Response& res) {
    in_flight.route = route->name;
    serve(req, res);
  };
  if (method == "GET") {
    server_->Get(pattern, std::move(plain));
  } else {
    server_->Options(pattern, std::move(plain));
  }
  return *this;
}

void Server::InstallHooks() {
  // Not httplib's default, SO_REUSEPORT, which lets a second server bind the same port unnoticed.
  // The hook sees each socket httplib creates to bind (one per address tried); the last one is
  // the one that bound, whose listen backlog Start() raises.
  server_->set_socket_options([this](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_socket_ = sock;
  });
  server_->set_payload_max_length(options_.max_body_bytes);
  const auto set_timeout = [](absl::Duration d, auto set) {
    const int64_t micros = absl::ToInt64Microseconds(d);
    set(static_cast<time_t>(micros / 1000000), static_cast<time_t>(micros % 1000000));
  };
  set_timeout(options_.read_timeout,
              [&](time_t s, time_t us) { server_->set_read_timeout(s, us); });
  set_timeout(options_.write_timeout,
              [&](time_t s, time_t us) { server_->set_write_timeout(s, us); });
  server_->set_keep_alive_timeout(static_cast<time_t>(
      absl::ToInt64Seconds(absl::Ceil(options_.idle_timeout, absl::Seconds(1)))));
  // Small responses must leave at once: with Nagle's algorithm on, each one waits for the
  // client's delayed ACK (about 40 ms on Linux), which bounds a keep-alive connection to some
  // 25 requests a second. httplib 0.11.4 leaves it on by default.
  server_->set_tcp_nodelay(true);
  // httplib closes a keep-alive connection after 5 requests by default; reconnecting (and, with
  // TLS, a new handshake) every fifth request costs more than the request.
  server_->set_keep_alive_max_count(kKeepAliveMaxRequests);
  // httplib calls this on the serving thread once it is running, right before accepting: from
  // then on its stop() works.
  server_->new_task_queue = [this] {
    absl::MutexLock lock(&mu_);
    accepting_ = true;
    return new httplib::ThreadPool(static_cast<size_t>(options_.threads));
  };

  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    in_flight = InFlight{this, "", SteadyClock::now()};  // the route is known once dispatched
    if (const int status = internal::UnservableBody(req); status != 0) {
      internal::RejectAndClose(res, status);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server_->set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr thrown) {
        std::string what = "not a std::exception";
        try {
          std::rethrow_exception(thrown);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        // The route name only: what() may quote the request.
        Log()->error("msg=\"handler threw; answered 500\" server={} route={}", options_.server_name,
                     in_flight.route.empty() ? "unmatched" : in_flight.route);
        Log()->debug("msg=\"handler exception\" server={} what=\"{}\"", options_.server_name, what);
        res.headers.clear();  // nothing the handler had prepared goes out
        res.content_length_ = 0;
        res.content_provider_ = nullptr;
        res.is_chunked_content_provider_ = false;
        res.status = 500;
        res.set_content(ErrorBody(500), kTextPlain);
      });
  // Runs for every response with status >= 400, including httplib's own (404, 413, 400).
  server_->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty() || res.content_provider_) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        res.set_content(ErrorBody(res.status), kTextPlain);
        return httplib::Server::HandlerResponse::Handled;  // so httplib sets Content-Length
      }));
  // Runs for every response, just before it is written: a count is in the metrics by the time
  // the client has the response.
  server_->set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    ApplyDefaultHeaders(res);
    const InFlight flight = std::exchange(in_flight, InFlight{});
    const bool routed = flight.server == this;
    const std::string_view route = routed && !flight.route.empty() ? flight.route : "unmatched";
    std::optional<absl::Duration> duration;
    if (routed) duration = absl::FromChrono(SteadyClock::now() - flight.start);
    if (metrics_ != nullptr) metrics_->Observe(route, req.method, res.status, duration);
    if (Log()->should_log(spdlog::level::debug)) {
      Log()->debug("msg=\"request\" server={} route={} method={} code={} client={} duration={}",
                   options_.server_name, route, MethodLabel(req.method), res.status,
                   ClientAddress(req.remote_addr, req.headers, trusted_),
                   duration.has_value() ? absl::FormatDuration(*duration) : "?");
    }
  });
}

absl::Status Server::Start() {
  absl::MutexLock lock(&mu_);
  if (state_ != State::kCreated) {
    return FailedPrecondition(
        absl::StrCat("http ", options_.server_name, ": Start() after Start() or Stop()"));
  }
  errno = 0;
  int port = -1;
  if (requested_port_ == 0) {
    port = server_->bind_to_any_port(host_);
  } else if (server_->bind_to_port(host_, requested_port_)) {
    port = requested_port_;
  }
  if (port <= 0) {
    const int error = errno;  // from bind(), or a failed name lookup (then 0)
    return absl::UnavailableError(absl::StrCat("listen: cannot listen on ", options_.listen,
                                               error != 0 ? ": " : "",
                                               error != 0 ? std::strerror(error) : ""));
  }
  // httplib 0.11.4 listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, fixed when Debian
  // built the library): a burst of more new connections than that (a load balancer opening its
  // pool, a page's assets) overflowed the accept queue, and the kernel dropped the extra SYNs,
  // which the clients resent a second later. listen() again on the listening socket raises it.
  if (::listen(listen_socket_, SOMAXCONN) != 0) {
    Log()->warn("msg=\"cannot raise the listen backlog\" server={} error=\"{}\"",
                options_.server_name, std::strerror(errno));
  }
  port_ = port;
  state_ = State::kServing;
  thread_ = std::thread([this] {
    if (!server_->listen_after_bind()) {
      Log()->error("msg=\"stopped accepting connections after an error\" server={}",
                   options_.server_name);
    }
    absl::MutexLock done(&mu_);
    accepting_ = true;  // in case it stopped before it started
  });
  mu_.Await(absl::Condition(&accepting_));
  Log()->info("msg=\"serving\" server={} scheme={} address={}", options_.server_name,
              options_.tls_cert_file.empty() ? "http" : "https", JoinHostPort(host_, port_));
  return absl::OkStatus();
}

int Server::port() const {
  absl::MutexLock lock(&mu_);
  return port_;
}

std::string Server::address() const {
  absl::MutexLock lock(&mu_);
  return port_ == 0 ? "" : JoinHostPort(host_, port_);
}

void Server::Stop() {
  {
    absl::MutexLock lock(&mu_);
    const bool serving = state_ == State::kServing;
    state_ = State::kStopped;
    if (!serving) return;
    // httplib's stop() does nothing until its serving thread is running.
    mu_.Await(absl::Condition(&accepting_));
  }
  server_->stop();
  thread_.join();
  Log()->info("msg=\"stopped\" server={}", options_.server_name);
}

}  // namespace assent::http
