// "Download my data" (issue 16): the preference page asks for an address; consentd mails an EXPORT
// link (30 minutes) only to an address linked to the subject, so the customer proves control of
// it again; the link's page streams ExportSubject as JSON Lines (proto3 JSON mapping).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/time_util.h"
#include "google/protobuf/util/json_util.h"
#include "http/form.h"
#include "http/response.h"
#include "links/encoding.h"
#include "prefcenter/app.h"
#include "spdlog/spdlog.h"

namespace assent::prefcenter {
namespace {

// How long one download may stream.
constexpr absl::Duration kExportDeadline = absl::Minutes(10);
// What a customer asking again too soon is told to wait (consentd allows one per 5 minutes).
constexpr absl::Duration kExportLinkRetry = absl::Minutes(5);

std::string Field(const std::multimap<std::string, std::string>& form, const std::string& key) {
  auto it = form.find(key);
  return it == form.end() ? "" : it->second;
}

std::string JsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return "{\"error\":\"cannot print message as JSON\"}\n";
  }
  json.push_back('\n');
  return json;
}

}  // namespace

std::string App::DownloadScope(const std::string& token) {
  return absl::StrCat("download\n", LinkDigest(token));
}

void App::PostDownloadRequest(const httplib::Request& req, httplib::Response& res,
                              const http::RequestContext& ctx) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::PREFERENCE_CENTER, claims, false)) return;
  const auto form = http::ParseForm(req.body);
  if (CrossSite(req) ||
      !CsrfValid(claims.tenant, DownloadScope(token), Field(form, "nonce"), Field(form, "csrf"))) {
    return SendError(req, res, 403, claims.tenant);
  }
  const std::string lang = Language(req, nullptr);
  const std::string email = Field(form, "email");
  v1::RequestExportLinkRequest request;
  request.set_tenant(claims.tenant);
  *request.mutable_target() = ToTarget(claims.target);
  request.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
  request.mutable_contact_point()->set_value(email.size() > 512 ? "" : email);
  request.set_actor(kActor);
  request.set_language(Field(form, "lang").empty() ? lang : Field(form, "lang"));
  absl::Status status = client_.RequestExportLink(request);
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    downloads_.Add({{"result", "rate_limited"}}).Increment();
    return SendError(req, res, 429, claims.tenant, kExportLinkRetry);
  }
  // consentd without the keyrings it needs is the operator's problem, not an answer to hide;
  // "target: ..." (a contact point linked to no subject) says nothing about the typed address.
  const bool misconfigured = status.code() == absl::StatusCode::kFailedPrecondition &&
                             !absl::StartsWith(status.message(), "target:");
  if (misconfigured || status.code() == absl::StatusCode::kUnavailable ||
      status.code() == absl::StatusCode::kDeadlineExceeded ||
      status.code() == absl::StatusCode::kInternal ||
      status.code() == absl::StatusCode::kPermissionDenied ||
      status.code() == absl::StatusCode::kUnauthenticated) {
    spdlog::warn("msg=\"export link not requested\" error=\"{}\"", status.ToString());
    downloads_.Add({{"result", "error"}}).Increment();
    return SendError(req, res, 500, claims.tenant);
  }
  // The same page whatever the address (and for a malformed one): the page reveals nothing about
  // which addresses belong to the customer.
  downloads_.Add({{"result", "asked"}}).Increment();
  Send(res, 200, "download_sent",
       Common(lang, claims.tenant, DisplayName(claims.tenant), "download_sent_title"),
       claims.tenant);
}

void App::GetExport(const httplib::Request& req, httplib::Response& res,
                    const http::RequestContext& ctx) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::EXPORT, claims, false)) return;
  const std::string lang = Language(req, nullptr);
  nlohmann::json view = Common(lang, claims.tenant, DisplayName(claims.tenant), "export_title");
  const std::string nonce = links::Base64Url(RandomBytes(16));
  view["form"] = {{"action", absl::StrCat("/x/", token)},
                  {"csrf", CsrfToken(claims.tenant, DownloadScope(token), nonce)},
                  {"nonce", nonce}};
  view["expires"] = absl::FormatTime("%Y-%m-%d %H:%M UTC", claims.expire_time, absl::UTCTimeZone());
  res.set_header("Cache-Control", "no-store");
  Send(res, 200, "export", std::move(view), claims.tenant);
}

void App::PostExport(const httplib::Request& req, httplib::Response& res,
                     const http::RequestContext& ctx) {
  const std::string token = req.matches[1];
  if (!Admit(req, res, ctx, token, false)) return;
  links::LinkClaims claims;
  if (!VerifyToken(req, res, token, v1::EXPORT, claims, false)) return;
  const auto form = http::ParseForm(req.body);
  if (CrossSite(req) ||
      !CsrfValid(claims.tenant, DownloadScope(token), Field(form, "nonce"), Field(form, "csrf"))) {
    return SendError(req, res, 403, claims.tenant);
  }
  std::shared_ptr<ConsentClient::ExportStream> stream(
      client_.Export(claims.tenant, claims.target.subject_id(), kExportDeadline));
  // The first chunk before any header goes out, so a refusal is an error page, not a file.
  std::optional<v1::ExportChunk> first = stream->Next();
  if (!first.has_value()) {
    absl::Status status = stream->Finish();
    downloads_.Add({{"result", "export_error"}}).Increment();
    if (status.code() == absl::StatusCode::kNotFound)
      return SendError(req, res, 404, claims.tenant);
    spdlog::warn("msg=\"export not started\" error=\"{}\"", status.ToString());
    return SendError(req, res, 500, claims.tenant);
  }
  downloads_.Add({{"result", "downloaded"}}).Increment();
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header(
      "Content-Disposition",
      absl::StrCat("attachment; filename=\"my-data-",
                   absl::FormatTime("%Y-%m-%d", clock_.Now(), absl::UTCTimeZone()), ".jsonl\""));
  auto pending = std::make_shared<std::string>(JsonLine(*first));
  res.set_chunked_content_provider(
      "application/jsonl; charset=utf-8", [stream, pending](size_t, httplib::DataSink& sink) {
        if (!pending->empty()) {
          if (!sink.write(pending->data(), pending->size())) return false;
          pending->clear();
          return true;
        }
        std::optional<v1::ExportChunk> chunk = stream->Next();
        if (chunk.has_value()) {
          *pending = JsonLine(*chunk);
          return sink.write(pending->data(), pending->size()) && (pending->clear(), true);
        }
        absl::Status status = stream->Finish();
        if (!status.ok()) {
          // Half a file must not look whole: the connection is cut without the last chunk.
          spdlog::warn("msg=\"export interrupted\" error=\"{}\"", status.ToString());
          return false;
        }
        sink.done();
        return true;
      });
}

}  // namespace assent::prefcenter
