#include "http/request_guard.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace assent::http::internal {

std::string ErrorBody(int status) {
  static constexpr std::pair<int, std::string_view> kReasons[] = {
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {409, "Conflict"},
      {410, "Gone"},
      {411, "Length Required"},
      {413, "Payload Too Large"},
      {414, "URI Too Long"},
      {415, "Unsupported Media Type"},
      {416, "Range Not Satisfiable"},
      {422, "Unprocessable Content"},
      {429, "Too Many Requests"},
      {500, "Internal Server Error"},
      {503, "Service Unavailable"},
  };
  std::string_view reason = "Error";
  for (const auto& [code, text] : kReasons) {
    if (code == status) reason = text;
  }
  return absl::StrCat(status, " ", Sv(reason), "\n");
}

int UnservableBody(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return 411;
  const size_t lengths = req.get_header_value_count("Content-Length");
  if (lengths > 1) return 400;
  uint64_t length = 0;
  if (lengths == 1) {
    const std::string value = req.get_header_value("Content-Length");
    if (value.empty() || value.size() > 18 ||
        value.find_first_not_of("0123456789") != std::string::npos ||
        !absl::SimpleAtoi(value, &length)) {
      return 400;
    }
  }
  // The methods httplib reads a body for (DELETE only with a Content-Length).
  const std::string& m = req.method;
  const bool reads_body = m == "POST" || m == "PUT" || m == "PATCH" || m == "DELETE" || m == "PRI";
  if (!reads_body) return length > 0 ? 400 : 0;
  if (lengths == 0 && m != "DELETE") return 411;
  const std::string encoding = req.get_header_value("Content-Encoding");
  if (!encoding.empty() && !absl::EqualsIgnoreCase(encoding, "identity")) return 415;
  return 0;
}

// httplib 0.11 has no call to close a connection after a response. It does close it when a
// content provider fails, so this provider writes the whole body and then reports failure.
void RejectAndClose(httplib::Response& res, int status) {
  res.status = status;
  res.set_header("Connection", "close");
  auto body = std::make_shared<const std::string>(ErrorBody(status));
  res.set_content_provider(
      body->size(), kTextPlain, [body](size_t offset, size_t length, httplib::DataSink& sink) {
        if (offset < body->size()) {
          sink.write(body->data() + offset, std::min(length, body->size() - offset));
        }
        return false;
      });
}

}  // namespace assent::http::internal
