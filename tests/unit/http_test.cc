#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/client_address.h"
#include "http/form.h"
#include "http/rate_limiter.h"
#include "http/response.h"
#include "http/server.h"
#include "httplib.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "testing/fake_clock.h"
#include "testing/status_matchers.h"
#include "testing/temp_dir.h"

namespace assent::http {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::IsOk;
using ::testing::Not;
using testing::StatusIs;

// --- Server ------------------------------------------------------------------------------------

ServerOptions LocalOptions() {
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 2;
  options.server_name = "test";
  return options;
}

std::unique_ptr<Server> Serve(ServerOptions options, const std::function<void(Server&)>& routes,
                              prometheus::Registry* registry = nullptr) {
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Create(std::move(options), registry);
  EXPECT_THAT(server, IsOk());
  if (!server.ok()) return nullptr;
  routes(**server);
  EXPECT_THAT((*server)->Start(), IsOk());
  return *std::move(server);
}

// Routes most tests use: a greeting with a path parameter, an echo, a stylesheet, a thrower.
void DemoRoutes(Server& server, std::atomic<int>* echo_calls = nullptr) {
  server.Get("hello", "/hello/([a-z]+)",
             [](const httplib::Request& req, httplib::Response& res, const RequestContext& ctx) {
               res.set_content(
                   absl::StrCat("hi ", req.matches[1].str(), " via ", std::string(ctx.route)),
                   "text/plain");
             });
  server.Post(
      "echo", "/echo",
      [echo_calls](const httplib::Request& req, httplib::Response& res, const RequestContext&) {
        if (echo_calls != nullptr) ++*echo_calls;
        res.set_content(req.body, "text/plain");
      });
  server.Get("style", "/style.css",
             [](const httplib::Request&, httplib::Response& res, const RequestContext&) {
               res.set_header("Cache-Control", "public, max-age=60");
               res.set_content("body{}", "text/css");
             });
  server.Get("throws", "/throws",
             [](const httplib::Request&, httplib::Response& res, const RequestContext&) {
               res.set_header("X-Half-Done", "yes");
               throw std::runtime_error("details of secret-token-123");
             });
  server.Options("echo_options", "/echo",
                 [](const httplib::Request&, httplib::Response& res, const RequestContext&) {
                   res.status = 204;
                   res.set_header("Allow", "POST, OPTIONS");
                 });
  server.Get("whoami", "/whoami",
             [](const httplib::Request&, httplib::Response& res, const RequestContext& ctx) {
               res.set_content(ctx.client_address, "text/plain");
             });
}

TEST(ServerTest, RoutesByMethodAndPatternAndAnswers404Otherwise) {
  auto server = Serve(LocalOptions(), [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(server, nullptr);
  httplib::Client client("127.0.0.1", server->port());

  auto hello = client.Get("/hello/bob");
  ASSERT_TRUE(hello) << httplib::to_string(hello.error());
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "hi bob via hello");

  auto head = client.Head("/hello/bob");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");

  auto echo = client.Post("/echo", "ping", "text/plain");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->status, 200);
  EXPECT_EQ(echo->body, "ping");

  // Patterns are matched by std::regex, which recurses once per character: the longest path
  // httplib accepts must not exhaust a worker's stack.
  auto longest = client.Get("/hello/" + std::string(8000, 'a'));
  ASSERT_TRUE(longest);
  EXPECT_EQ(longest->status, 200);
  auto too_long = client.Get("/hello/" + std::string(9000, 'a'));
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 414);

  auto options = client.Options("/echo");
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 204);
  EXPECT_EQ(options->get_header_value("Allow"), "POST, OPTIONS");

  for (const char* path : {"/hello/Bob", "/hello/bob/more", "/nothing", "/echo"}) {
    auto missing = client.Get(path);
    ASSERT_TRUE(missing) << path;
    EXPECT_EQ(missing->status, 404) << path;
    EXPECT_EQ(missing->body, "404 Not Found\n") << path;
    EXPECT_EQ(missing->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  }
}

TEST(ServerTest, DefaultHeadersUnlessTheHandlerSetsThem) {
  auto server = Serve(LocalOptions(), [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(server, nullptr);
  httplib::Client client("127.0.0.1", server->port());
  for (const char* path : {"/hello/ann", "/nothing"}) {
    auto res = client.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(res->get_header_value("Referrer-Policy"), "no-referrer") << path;
    EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store") << path;
  }
  auto css = client.Get("/style.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->get_header_value_count("Cache-Control"), 1u);
  EXPECT_EQ(css->get_header_value("Cache-Control"), "public, max-age=60");
  EXPECT_EQ(css->get_header_value("X-Content-Type-Options"), "nosniff");
}

TEST(ServerTest, OversizedBodyIs413BeforeTheHandlerRuns) {
  ServerOptions options = LocalOptions();
  options.max_body_bytes = 1024;
  std::atomic<int> calls{0};
  auto server = Serve(options, [&](Server& s) { DemoRoutes(s, &calls); });
  ASSERT_NE(server, nullptr);
  httplib::Client client("127.0.0.1", server->port());

  auto too_big = client.Post("/echo", std::string(1025, 'x'), "application/json");
  ASSERT_TRUE(too_big) << httplib::to_string(too_big.error());
  EXPECT_EQ(too_big->status, 413);
  EXPECT_EQ(calls, 0);

  auto fits = client.Post("/echo", std::string(1024, 'x'), "application/json");
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->status, 200);
  EXPECT_EQ(calls, 1);
}

// Sends `request` on a fresh connection, then reads until the server closes it.
std::string RawExchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{10, 0};  // a bound if the server never closes, not a wait
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    ssize_t n;
    while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
  }
  close(fd);
  return response;
}

TEST(ServerTest, RefusesBodiesItCannotBound) {
  std::atomic<int> calls{0};
  auto server = Serve(LocalOptions(), [&](Server& s) { DemoRoutes(s, &calls); });
  ASSERT_NE(server, nullptr);

  // httplib would read a chunked body without a bound. (Sent raw: httplib's client stops at the
  // failed write of the body and never reads the answer.)
  const std::string chunked = RawExchange(
      server->port(),
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_THAT(chunked, HasSubstr("HTTP/1.1 411 Length Required\r\n"));
  EXPECT_THAT(chunked, HasSubstr("\r\nConnection: close\r\n"));

  // ... and inflate a compressed one without a bound.
  const std::string gzipped = RawExchange(
      server->port(),
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_THAT(gzipped, HasSubstr("HTTP/1.1 415 Unsupported Media Type\r\n"));

  // Multipart bodies are not for these handlers.
  EXPECT_THAT(RawExchange(server->port(),
                          "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
                          "boundary=b\r\nContent-Length: 4\r\n\r\n--b\n"),
              HasSubstr("HTTP/1.1 415 Unsupported Media Type\r\n"));

  // A POST without Content-Length would be read until the client closes the connection.
  EXPECT_THAT(RawExchange(server->port(), "POST /echo HTTP/1.1\r\nHost: t\r\n\r\n"),
              HasSubstr("HTTP/1.1 411 Length Required\r\n"));
  EXPECT_EQ(calls, 0);
}

TEST(ServerTest, BodyOnAGetIsRefusedAndTheConnectionClosed) {
  auto server = Serve(LocalOptions(), [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(server, nullptr);
  // httplib does not read a GET's body. Sized so that the request hidden in it starts where
  // httplib's 4 KiB read-ahead ends: left on the connection it would be served next.
  const std::string hidden = "GET /hello/smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
  std::string head;
  size_t filler = 4096;
  for (int i = 0; i < 3; ++i) {
    head = absl::StrCat("GET /hello/first HTTP/1.1\r\nHost: t\r\nContent-Length: ",
                        filler + hidden.size(), "\r\n\r\n");
    filler = 4096 - head.size();
  }
  const std::string response =
      RawExchange(server->port(), head + std::string(filler, 'x') + hidden);
  EXPECT_THAT(response, HasSubstr("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(response, Not(HasSubstr("smuggled")));
  EXPECT_THAT(response, Not(HasSubstr("HTTP/1.1 200")));
}

TEST(ServerTest, HandlerExceptionIs500WithoutItsDetails) {
  auto server = Serve(LocalOptions(), [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(server, nullptr);
  httplib::Client client("127.0.0.1", server->port());
  auto res = client.Get("/throws");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->body, "500 Internal Server Error\n");
  EXPECT_FALSE(res->has_header("X-Half-Done"));
  for (const auto& [name, value] : res->headers) {
    EXPECT_THAT(value, Not(HasSubstr("secret"))) << name;
  }
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
}

double SeriesValue(prometheus::Registry& registry, const std::string& family,
                   const std::map<std::string, std::string>& labels) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      size_t matched = 0;
      for (const auto& label : m.label) {
        auto it = labels.find(label.name);
        if (it != labels.end() && it->second == label.value) ++matched;
      }
      if (matched == labels.size()) {
        return f.type == prometheus::MetricType::Histogram
                   ? static_cast<double>(m.histogram.sample_count)
                   : m.counter.value;
      }
    }
  }
  return 0;
}

TEST(ServerTest, MetricsCountRequestsByRouteNameNotPath) {
  prometheus::Registry registry;
  ServerOptions options = LocalOptions();
  options.max_body_bytes = 16;
  auto server = Serve(
      options, [](Server& s) { DemoRoutes(s); }, &registry);
  ASSERT_NE(server, nullptr);
  httplib::Client client("127.0.0.1", server->port());
  ASSERT_TRUE(client.Get("/hello/bob"));
  ASSERT_TRUE(client.Get("/hello/eve"));
  ASSERT_TRUE(client.Get("/private/token-abc"));
  ASSERT_TRUE(client.Post("/echo", std::string(17, 'x'), "text/plain"));
  ASSERT_TRUE(client.Get("/throws"));

  const std::string requests = "assent_http_requests_total";
  EXPECT_EQ(
      SeriesValue(registry, requests,
                  {{"server", "test"}, {"route", "hello"}, {"method", "GET"}, {"code", "200"}}),
      2);
  EXPECT_EQ(SeriesValue(registry, requests, {{"route", "unmatched"}, {"code", "404"}}), 1);
  EXPECT_EQ(SeriesValue(registry, requests, {{"route", "echo"}, {"code", "413"}}), 1);
  EXPECT_EQ(SeriesValue(registry, requests, {{"route", "throws"}, {"code", "500"}}), 1);
  EXPECT_EQ(SeriesValue(registry, "assent_http_request_duration_seconds", {{"route", "hello"}}), 2);

  const std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_THAT(text, AllOf(Not(HasSubstr("bob")), Not(HasSubstr("token-abc"))));
}

TEST(ServerTest, HandlersSeeTheClientBehindTrustedProxies) {
  httplib::Headers forwarded{{"X-Forwarded-For", "203.0.113.7"}};
  auto direct = Serve(LocalOptions(), [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(direct, nullptr);
  auto res = httplib::Client("127.0.0.1", direct->port()).Get("/whoami", forwarded);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "127.0.0.1");  // a forged header from an untrusted peer is ignored

  ServerOptions options = LocalOptions();
  options.trusted_proxies = {"127.0.0.0/8"};
  auto proxied = Serve(options, [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(proxied, nullptr);
  res = httplib::Client("127.0.0.1", proxied->port()).Get("/whoami", forwarded);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "203.0.113.7");
}

TEST(ServerTest, StartFailsNamingTheAddressWhenThePortIsTaken) {
  auto first = Serve(LocalOptions(), [](Server&) {});
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->address(), absl::StrCat("127.0.0.1:", first->port()));
  ServerOptions options = LocalOptions();
  options.listen = first->address();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Server> second, Server::Create(options, nullptr));
  // Also shows the port is not shared: httplib's default SO_REUSEPORT would let this bind.
  EXPECT_THAT(second->Start(),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr(first->address()), HasSubstr("Address already in use"))));
}

// The listening socket's accept-queue limit, found among this process's descriptors by its port
// (TCP_INFO reports a listener's limit in tcpi_sacked); -1 when no listener has that port.
int ListenBacklog(int port) {
  for (int fd = 0; fd < 4096; ++fd) {
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0) {
      continue;
    }
    sockaddr_in addr{};
    len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
        addr.sin_family != AF_INET || ntohs(addr.sin_port) != port) {
      continue;
    }
    tcp_info info{};
    len = sizeof(info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return -1;
    return static_cast<int>(info.tcpi_sacked);
  }
  return -1;
}

// httplib's own backlog of 5 dropped the SYNs of a burst of new connections whenever the accept
// thread was a moment late, and each dropped client waited a second to resend.
TEST(ServerTest, ListensWithTheSystemsBacklogNotHttplibsFive) {
  auto server = Serve(LocalOptions(), [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(server, nullptr);
  EXPECT_GE(ListenBacklog(server->port()), 128);
  EXPECT_TRUE(httplib::Client("127.0.0.1", server->port()).Get("/hello/bob"));
}

TEST(ServerTest, StopIsIdempotentAndFinal) {
  auto server = Serve(LocalOptions(), [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  server->Stop();
  server->Stop();
  EXPECT_FALSE(httplib::Client("127.0.0.1", port).Get("/hello/bob"));
  EXPECT_THAT(server->Start(), StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("Stop")));
}

TEST(ServerTest, CreateRejectsBadOptionsNamingTheField) {
  struct Case {
    std::function<void(ServerOptions&)> change;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](ServerOptions& o) { o.listen = "localhost"; }, "listen"},
      {[](ServerOptions& o) { o.listen = "::1:80"; }, "listen"},
      {[](ServerOptions& o) { o.listen = "127.0.0.1:65536"; }, "listen"},
      {[](ServerOptions& o) { o.threads = 0; }, "threads"},
      {[](ServerOptions& o) { o.max_body_bytes = 0; }, "max_body_bytes"},
      {[](ServerOptions& o) { o.read_timeout = absl::ZeroDuration(); }, "read_timeout"},
      {[](ServerOptions& o) {
         o.trusted_proxies = {"10.0.0.0/8", "proxy.local"};
       },
       "trusted_proxies[1]"},
      {[](ServerOptions& o) { o.tls_cert_file = "/etc/cert.pem"; }, "tls_key_file"},
      {[](ServerOptions& o) { o.tls_key_file = "/etc/key.pem"; }, "tls_cert_file"},
  };
  for (const Case& c : cases) {
    ServerOptions options = LocalOptions();
    c.change(options);
    EXPECT_THAT(Server::Create(options, nullptr),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field + ": ")))
        << c.field;
  }
}

TEST(ResponseTest, SecurityHeadersForPages) {
  httplib::Response res;
  res.set_header("X-Frame-Options", "SAMEORIGIN");
  SetSecurityHeaders(res, "default-src 'none'; style-src 'self';");
  EXPECT_EQ(res.get_header_value("Content-Security-Policy"),
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'");
  EXPECT_EQ(res.get_header_value_count("X-Frame-Options"), 1u);
  EXPECT_EQ(res.get_header_value("X-Frame-Options"), "DENY");
  EXPECT_EQ(res.get_header_value("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(res.get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(res.get_header_value("Cache-Control"), "no-store");

  SetSecurityHeaders(res, "frame-ancestors https://example.com");
  EXPECT_EQ(res.get_header_value_count("Content-Security-Policy"), 1u);
  EXPECT_EQ(res.get_header_value("Content-Security-Policy"), "frame-ancestors https://example.com");
}

// --- TLS ---------------------------------------------------------------------------------------

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;

KeyPtr NewKey() { return KeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")); }

void WritePrivateKey(EVP_PKEY* key, const std::string& path) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  ASSERT_NE(bio, nullptr);
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  BIO_free(bio);
}

// A self-signed certificate for 127.0.0.1 and localhost, valid for an hour.
void WriteSelfSignedCertificate(EVP_PKEY* key, const std::string& path) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  ASSERT_NE(san, nullptr);
  X509_add_ext(cert.get(), san, -1);
  X509_EXTENSION_free(san);
  ASSERT_GT(X509_sign(cert.get(), key, EVP_sha256()), 0);
  BIO* bio = BIO_new_file(path.c_str(), "w");
  ASSERT_NE(bio, nullptr);
  EXPECT_EQ(PEM_write_bio_X509(bio, cert.get()), 1);
  BIO_free(bio);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KeyPtr key = NewKey();
    ASSERT_NE(key, nullptr);
    WriteSelfSignedCertificate(key.get(), cert_);
    WritePrivateKey(key.get(), key_);
  }
  ServerOptions TlsOptions() const {
    ServerOptions options = LocalOptions();
    options.tls_cert_file = cert_;
    options.tls_key_file = key_;
    return options;
  }

  testing::TempDir dir_;
  const std::string cert_ = dir_.Sub("cert.pem");
  const std::string key_ = dir_.Sub("key.pem");
};

TEST_F(TlsTest, ServesHttpsAndNotPlainHttp) {
  auto server = Serve(TlsOptions(), [](Server& s) { DemoRoutes(s); });
  ASSERT_NE(server, nullptr);
  httplib::SSLClient tls("127.0.0.1", server->port());
  tls.set_ca_cert_path(cert_);  // and verify the certificate against it
  auto res = tls.Get("/hello/tls");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hi tls via hello");

  httplib::Client plain("127.0.0.1", server->port());
  plain.set_read_timeout(10, 0);
  EXPECT_FALSE(plain.Get("/hello/plain"));
}

TEST_F(TlsTest, UnreadableFilesAreNamedButNotQuoted) {
  ServerOptions missing = TlsOptions();
  missing.tls_key_file = dir_.Sub("absent.pem");
  EXPECT_THAT(Server::Create(missing, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tls_key_file: "), HasSubstr("absent.pem"))));

  std::ofstream(dir_.Sub("garbage.pem")) << "SECRET-MATERIAL-1234\n";
  ServerOptions garbage = TlsOptions();
  garbage.tls_key_file = dir_.Sub("garbage.pem");
  EXPECT_THAT(Server::Create(garbage, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tls_key_file: "), Not(HasSubstr("SECRET")))));
  ServerOptions garbage_cert = TlsOptions();
  garbage_cert.tls_cert_file = dir_.Sub("garbage.pem");
  EXPECT_THAT(Server::Create(garbage_cert, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tls_cert_file: "), Not(HasSubstr("SECRET")))));

  KeyPtr other = NewKey();
  ASSERT_NE(other, nullptr);
  WritePrivateKey(other.get(), dir_.Sub("other.pem"));
  ServerOptions mismatched = TlsOptions();
  mismatched.tls_key_file = dir_.Sub("other.pem");
  EXPECT_THAT(Server::Create(mismatched, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tls_key_file: "), HasSubstr("does not belong"))));
}

// --- ClientAddress -----------------------------------------------------------------------------

TEST(ClientAddressTest, Table) {
  ASSERT_OK_AND_ASSIGN(TrustedProxies trusted,
                       TrustedProxies::Parse({"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"}));
  struct Case {
    std::string name;
    std::string peer;
    httplib::Headers headers;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"untrusted peer, forged XFF",
       "198.51.100.1",
       {{"X-Forwarded-For", "1.2.3.4"}},
       "198.51.100.1"},
      {"untrusted peer, forged Forwarded",
       "198.51.100.1",
       {{"Forwarded", "for=1.2.3.4"}},
       "198.51.100.1"},
      {"trusted peer, no header", "10.1.2.3", {}, "10.1.2.3"},
      {"trusted peer, XFF", "10.1.2.3", {{"X-Forwarded-For", "203.0.113.5"}}, "203.0.113.5"},
      {"XFF chain: skip trusted, stop at first untrusted",
       "192.0.2.1",
       {{"x-forwarded-for", "6.6.6.6, 203.0.113.5 ,10.0.0.9"}},
       "203.0.113.5"},
      {"several XFF headers",
       "10.0.0.1",
       {{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-For", "203.0.113.5"}},
       "203.0.113.5"},
      {"XFF all trusted: leftmost",
       "10.0.0.1",
       {{"X-Forwarded-For", "10.0.0.2, 10.0.0.3"}},
       "10.0.0.2"},
      {"XFF malformed entry", "10.0.0.1", {{"X-Forwarded-For", "6.6.6.6, not-an-ip"}}, "10.0.0.1"},
      {"XFF empty entry", "10.0.0.1", {{"X-Forwarded-For", "203.0.113.5,"}}, "10.0.0.1"},
      {"XFF bare IPv6, bracketed IPv6 with port",
       "10.0.0.1",
       {{"X-Forwarded-For", "2a00:1450::9, [2a00:1450::2]:443"}},
       "2a00:1450::2"},
      {"XFF IPv4 with port", "10.0.0.1", {{"X-Forwarded-For", "203.0.113.5:5555"}}, "203.0.113.5"},
      {"Forwarded preferred, quoted IPv6 with port",
       "10.0.0.1",
       {{"X-Forwarded-For", "9.9.9.9"},
        {"Forwarded", "for=198.51.100.17;proto=https, For=\"[2a00:1450::1]:4711\""}},
       "2a00:1450::1"},
      {"Forwarded skips trusted hops",
       "10.0.0.1",
       {{"Forwarded", "for=198.51.100.17, for=\"[2001:db8::7]\";by=10.0.0.1"}},
       "198.51.100.17"},
      {"Forwarded quoted IPv4 with port",
       "10.0.0.1",
       {{"Forwarded", "for=\"198.51.100.17:80\""}},
       "198.51.100.17"},
      {"Forwarded unknown", "10.0.0.1", {{"Forwarded", "for=unknown"}}, "10.0.0.1"},
      {"Forwarded obfuscated", "10.0.0.1", {{"Forwarded", "for=_hidden"}}, "10.0.0.1"},
      {"Forwarded unterminated quote", "10.0.0.1", {{"Forwarded", "for=\"[2a00::1]"}}, "10.0.0.1"},
      {"Forwarded unbracketed IPv6", "10.0.0.1", {{"Forwarded", "for=\"2a00::1\""}}, "10.0.0.1"},
      {"Forwarded unquoted port", "10.0.0.1", {{"Forwarded", "for=198.51.100.17:80"}}, "10.0.0.1"},
      {"Forwarded twice for= in one element",
       "10.0.0.1",
       {{"Forwarded", "for=198.51.100.1;for=198.51.100.2"}},
       "10.0.0.1"},
      {"Forwarded without for= falls to XFF",
       "10.0.0.1",
       {{"Forwarded", "proto=https"}, {"X-Forwarded-For", "203.0.113.5"}},
       "203.0.113.5"},
      {"IPv6 peer inside the trusted /32",
       "2001:db8:ffff::5",
       {{"X-Forwarded-For", "198.51.100.2"}},
       "198.51.100.2"},
      {"IPv6 peer outside the trusted /32",
       "2001:db9::5",
       {{"X-Forwarded-For", "198.51.100.2"}},
       "2001:db9::5"},
      {"IPv4-mapped trusted peer",
       "::ffff:10.0.0.7",
       {{"X-Forwarded-For", "203.0.113.5"}},
       "203.0.113.5"},
      {"IPv4-mapped untrusted peer", "::ffff:198.51.100.1", {}, "198.51.100.1"},
      {"unparsable peer", "garbage", {{"X-Forwarded-For", "203.0.113.5"}}, "garbage"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClientAddress(c.peer, c.headers, trusted), c.want) << c.name;
  }
}

TEST(ClientAddressTest, CidrMatching) {
  ASSERT_OK_AND_ASSIGN(TrustedProxies trusted,
                       TrustedProxies::Parse({"172.16.0.0/12", "2001:db0::/28", "::1"}));
  EXPECT_TRUE(trusted.Contains("172.16.0.0"));
  EXPECT_TRUE(trusted.Contains("172.31.255.255"));
  EXPECT_FALSE(trusted.Contains("172.32.0.0"));
  EXPECT_TRUE(trusted.Contains("2001:dbf:1::1"));
  EXPECT_FALSE(trusted.Contains("2001:dc0::1"));
  EXPECT_TRUE(trusted.Contains("::1"));
  EXPECT_FALSE(trusted.Contains("::2"));
  EXPECT_FALSE(trusted.Contains("not an address"));
  EXPECT_FALSE(TrustedProxies().Contains("127.0.0.1"));
}

TEST(ClientAddressTest, ParseNamesTheBadEntry) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"10.0.0.0/8", "proxy.local"}, "trusted_proxies[1]: "},
      {{"10.0.0.1/8"}, "trusted_proxies[0]: address has bits set"},
      {{"10.0.0.0/33"}, "trusted_proxies[0]: prefix length"},
      {{"2001:db8::/129"}, "trusted_proxies[0]: prefix length"},
      {{"10.0.0.0/"}, "trusted_proxies[0]: prefix length"},
      {{""}, "trusted_proxies[0]: "},
  };
  for (const auto& [entries, message] : cases) {
    EXPECT_THAT(TrustedProxies::Parse(entries),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(message)))
        << message;
  }
  EXPECT_THAT(TrustedProxies::Parse({"0.0.0.0/0", "::/0", "192.0.2.1/32"}), IsOk());
}

// --- RateLimiter -------------------------------------------------------------------------------

std::unique_ptr<RateLimiter> Limiter(const RateLimiterOptions& options, const Clock& clock) {
  absl::StatusOr<std::unique_ptr<RateLimiter>> limiter = RateLimiter::Create(options, clock);
  EXPECT_THAT(limiter, IsOk());
  return limiter.ok() ? *std::move(limiter) : nullptr;
}

TEST(RateLimiterTest, BurstThenRefillWithRetryAfter) {
  testing::FakeClock clock;
  auto limiter = Limiter({.rate_per_second = 0.5, .burst = 3}, clock);
  ASSERT_NE(limiter, nullptr);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter->Take("a").allowed) << i;
  RateLimiter::Result denied = limiter->Take("a");
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.retry_after, absl::Seconds(2));
  EXPECT_TRUE(limiter->Take("b").allowed);  // keys are independent

  clock.Advance(absl::Milliseconds(1500));
  EXPECT_EQ(limiter->Take("a").retry_after, absl::Seconds(1));  // 0.25 s left, rounded up
  clock.Advance(absl::Milliseconds(500));
  EXPECT_TRUE(limiter->Take("a").allowed);
  EXPECT_FALSE(limiter->Take("a").allowed);

  clock.Advance(absl::Hours(1));  // refills to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter->Take("a").allowed) << i;
  EXPECT_FALSE(limiter->Take("a").allowed);
}

TEST(RateLimiterTest, RetryAfterIsAtLeastASecond) {
  testing::FakeClock clock;
  auto limiter = Limiter({.rate_per_second = 100, .burst = 1}, clock);
  ASSERT_NE(limiter, nullptr);
  EXPECT_TRUE(limiter->Take("k").allowed);
  EXPECT_EQ(limiter->Take("k").retry_after, absl::Seconds(1));

  httplib::Response res;
  Reply429(res, absl::Milliseconds(2100));
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.get_header_value("Retry-After"), "3");
  httplib::Response now;
  Reply429(now, absl::ZeroDuration());
  EXPECT_EQ(now.get_header_value("Retry-After"), "1");
}

TEST(RateLimiterTest, MemoryIsBoundedForgettingRefilledBucketsFirst) {
  testing::FakeClock clock;
  auto limiter = Limiter({.rate_per_second = 1, .burst = 2, .max_keys = 2}, clock);
  ASSERT_NE(limiter, nullptr);
  EXPECT_TRUE(limiter->Take("a").allowed);
  EXPECT_TRUE(limiter->Take("b").allowed);
  clock.Advance(absl::Seconds(10));  // both full again
  EXPECT_TRUE(limiter->Take("a").allowed);
  EXPECT_TRUE(limiter->Take("a").allowed);  // "a" is empty now
  EXPECT_TRUE(limiter->Take("c").allowed);  // evicts full "b", not "a"
  EXPECT_EQ(limiter->size(), 2u);
  EXPECT_FALSE(limiter->Take("a").allowed);

  // With no full bucket, the least recently used goes ("a", not "c").
  clock.Advance(absl::Milliseconds(100));
  EXPECT_TRUE(limiter->Take("c").allowed);
  EXPECT_TRUE(limiter->Take("d").allowed);
  EXPECT_EQ(limiter->size(), 2u);
  EXPECT_FALSE(limiter->Take("c").allowed);  // still remembered: empty

  auto sharded = Limiter({.rate_per_second = 1, .burst = 5, .max_keys = 2000}, clock);
  ASSERT_NE(sharded, nullptr);
  int allowed = 0;
  for (int i = 0; i < 10000; ++i) allowed += sharded->Take(absl::StrCat("key-", i)).allowed;
  EXPECT_EQ(allowed, 10000);  // every key is new, or forgotten
  EXPECT_LE(sharded->size(), 2000u);
  EXPECT_GE(sharded->size(), 1000u);
}

TEST(RateLimiterTest, ConcurrentTakesNeverExceedTheBurst) {
  testing::FakeClock clock;
  auto limiter = Limiter({.rate_per_second = 1, .burst = 100}, clock);
  ASSERT_NE(limiter, nullptr);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) allowed += limiter->Take("shared").allowed ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed, 100);
}

TEST(RateLimiterTest, RejectsBadOptionsNamingTheField) {
  testing::FakeClock clock;
  EXPECT_THAT(RateLimiter::Create({.rate_per_second = 0}, clock),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rate_per_second")));
  EXPECT_THAT(RateLimiter::Create({.burst = 0.5}, clock),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("burst")));
  EXPECT_THAT(RateLimiter::Create({.max_keys = 0}, clock),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_keys")));
}

// --- Forms and languages -----------------------------------------------------------------------

TEST(FormTest, ParsesLikeABrowser) {
  const std::multimap<std::string, std::string> form =
      ParseForm("a=1&b=x+y&c=%41%zz%4&d&=e&&token=YWJj%3D%3D&f=g=h&a=2&%C3%A9=%C3%A9");
  const std::multimap<std::string, std::string> want = {
      {"a", "1"}, {"a", "2"},          {"b", "x y"}, {"c", "A%zz%4"},          {"d", ""},
      {"", "e"},  {"token", "YWJj=="}, {"f", "g=h"}, {"\xC3\xA9", "\xC3\xA9"},
  };
  EXPECT_EQ(form, want);
  EXPECT_TRUE(ParseForm("").empty());
}

TEST(AcceptLanguageTest, Table) {
  const std::vector<std::string> supported = {"en", "de", "fr", "es"};
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"de-CH;q=0.9, en;q=0.8", "de"},
      {"", "en"},
      {"fr", "fr"},
      {"ES", "es"},
      {"en;q=0.1, de;q=0.9", "de"},
      {"fr;q=0.5, es;q=0.5", "fr"},  // ties keep header order
      {"ja, *;q=0.5", "en"},
      {"*;q=0.5, en;q=0", "de"},
      {"pt-BR, fr;q=0.1", "fr"},
      {"de;q=abc, fr", "fr"},  // malformed q: range skipped
      {"en;q=1.5, fr;q=0.2", "fr"},
      {"x-klingon, de;q=0", "en"},
      {"de;q=0, fr;q=0", "en"},
      {"123, es", "es"},
  };
  for (const auto& [header, want] : cases) {
    EXPECT_EQ(AcceptLanguage(header, supported), want) << header;
  }
  EXPECT_EQ(AcceptLanguage("pt-PT", {"en", "pt-BR"}), "pt-BR");
  EXPECT_EQ(AcceptLanguage("de", {}), "");
}

}  // namespace
}  // namespace assent::http
