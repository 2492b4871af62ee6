// Assent's HTTP server edge, on cpp-httplib (Debian's 0.11.4): routes with bounded metrics labels,
// optional TLS, request body limits, default security headers, and the client's address behind
// trusted proxies. The preference center's pages, one-click unsubscribe and JSON API run on it.
//
// Handlers receive httplib's own Request and Response. On top of httplib, every request gets:
//  - 413 when its Content-Length exceeds max_body_bytes, before any handler runs;
//  - 411 for bodies without Content-Length (chunked), 415 for compressed bodies, and 400 for a
//    body on a method httplib does not read one for or a malformed Content-Length; this
//    httplib would read such bodies without a bound or leave them to be parsed as the next
//    request. These answers close the connection;
//  - 404 with a small plain-text body when no route matches, and a plain-text body on any other
//    error response without one;
//  - 500 when a handler throws (logged with the route name only);
//  - kDefaultHeaders (response.h) where the handler did not set them.
// POST handlers find the body in req.body; req.params holds the query string only (ParseForm()
// parses a form body), and multipart bodies are refused with 415.
//
// Metrics, when Create() is given a registry (labels are bounded: never a path or an address):
//   assent_http_requests_total{server, route, method, code}   counter
//   assent_http_request_duration_seconds{server, route}       histogram, 0.5 ms to 5 s
// `route` is the route_name of the handler the request was dispatched to, or "unmatched" (no
// route, or refused before dispatch: malformed, 411, 415); `method` is GET, HEAD, POST, PUT,
// DELETE, OPTIONS, PATCH or "other"; `code` the status ("200"). Durations run from the end of the
// request headers to the response being ready to send.
// Logs never carry the request path or query (paths hold bearer tokens), and the client address
// only at debug level.
//
// Deployment: a connection holds a worker thread for as long as its client keeps sending, however
// slowly (the timeouts bound each read, not the request), and httplib does not limit the number
// of headers. Facing the internet, run it behind a reverse proxy that buffers requests (nginx,
// Envoy) and list that proxy in trusted_proxies.
//
// Thread safety: register routes, then Start(); after that handlers run concurrently on
// `threads` worker threads and must be thread-safe. Stop() and the destructor may be called from
// any thread but a handler's.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "http/client_address.h"
#include "httplib.h"
#include "prometheus/registry.h"

namespace assent::http {

struct ServerOptions {
  // "host:port" to listen on; IPv6 hosts in brackets ("[::]:8443"). Port 0 picks a free port
  // (see Server::port()). Default: "127.0.0.1:8080".
  std::string listen = "127.0.0.1:8080";
  // PEM files: the certificate (followed by its intermediates) and its unencrypted private key.
  // Both set: HTTPS (TLS 1.2 or later); neither: plain HTTP; one alone is an error. Default: none.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Largest request body accepted; a larger Content-Length is answered 413 before any handler
  // runs. Default: 64 KiB.
  size_t max_body_bytes = 64 * 1024;
  // Worker threads. httplib serves each connection on one thread until it closes, so this is also
  // the number of connections served at once; more are accepted and wait for a thread. Default: 8.
  int threads = 8;
  // Longest wait for the next bytes of a request, and for the client to take response bytes.
  // Whole microseconds. Default: 10 s each.
  absl::Duration read_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  // How long an idle keep-alive connection is kept (and holds its worker thread), rounded up to
  // whole seconds. Default: 5 s.
  absl::Duration idle_timeout = absl::Seconds(5);
  // Proxies whose Forwarded / X-Forwarded-For headers are believed (see ClientAddress): CIDRs or
  // single addresses, IPv4 or IPv6. Default: none (the TCP peer is the client).
  std::vector<std::string> trusted_proxies;
  // The "server" label of this server's metrics, e.g. "preference_center". Default: "http".
  std::string server_name = "http";
};

// What a handler knows besides httplib's Request.
struct RequestContext {
  // The route_name the handler was registered with.
  std::string_view route;
  // The client, per ClientAddress() with the server's trusted_proxies. A customer identifier:
  // never log it above debug level, never use it as a metrics label.
  std::string client_address;
};

using Handler =
    std::function<void(const httplib::Request&, httplib::Response&, const RequestContext&)>;

class Server {
 public:
  // Validates `options` and loads the TLS files; binds nothing yet. INVALID_ARGUMENT naming the
  // field ("listen", "tls_key_file", "trusted_proxies[2]", ...) for a bad option, a TLS file that
  // cannot be read or parsed (the message names the path, never the contents), or a key that
  // does not match its certificate. `registry` receives the metrics when not null and must outlive
  // the server.
  static absl::StatusOr<std::unique_ptr<Server>> Create(ServerOptions options,
                                                        prometheus::Registry* registry);
  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes a method and a path to `handler`. `pattern` is a std::regex (ECMAScript) the whole
  // decoded path must match (httplib's req.matches holds its groups); routes are tried in the
  // order registered. `route_name` is the metrics label: short, fixed, e.g. "preferences_get".
  // Get() also answers HEAD. Only before Start(): registering later, or an empty route_name,
  // aborts (a programming error); an invalid pattern throws std::regex_error.
  Server& Get(std::string route_name, const std::string& pattern, Handler handler);
  Server& Post(std::string route_name, const std::string& pattern, Handler handler);
  Server& Options(std::string route_name, const std::string& pattern, Handler handler);

  // Binds and serves on a background thread. UNAVAILABLE naming the address when it cannot bind;
  // FAILED_PRECONDITION when called twice or after Stop().
  absl::Status Start();
  // The bound port (after Start()), or 0.
  int port() const;
  // The bound address as "host:port" ("[::1]:8443" for IPv6), or "" before Start().
  std::string address() const;
  // Stops accepting, finishes the requests in flight and joins the threads. Idle keep-alive
  // connections can delay it by up to idle_timeout. Idempotent.
  void Stop();

 private:
  struct Route;
  class Metrics;
  enum class State { kCreated, kServing, kStopped };

  Server(ServerOptions options, TrustedProxies trusted, std::unique_ptr<httplib::Server> server,
         std::unique_ptr<Metrics> metrics);
  Server& Add(std::string_view method, std::string route_name, const std::string& pattern,
              Handler handler);
  void InstallHooks();

  const ServerOptions options_;
  const TrustedProxies trusted_;
  std::string host_;  // from options_.listen, without brackets
  int requested_port_ = 0;
  std::unique_ptr<Metrics> metrics_;            // null without a registry
  std::vector<std::unique_ptr<Route>> routes_;  // fixed once serving
  std::unique_ptr<httplib::Server> server_;
  int listen_socket_ = -1;  // the socket httplib last created to bind, before Start() returns
  std::thread thread_;

  mutable absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = State::kCreated;
  int port_ ABSL_GUARDED_BY(mu_) = 0;
  bool accepting_ ABSL_GUARDED_BY(mu_) = false;  // the serving thread reached accept()
};

}  // namespace assent::http
