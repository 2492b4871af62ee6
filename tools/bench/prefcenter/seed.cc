#include "bench/prefcenter/seed.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/bench_catalog.h"
#include "grpcpp/client_context.h"

namespace assent::bench {
namespace {

constexpr char kNoticeText[] =
    "We would like to send you our newsletter by email and by text message: news about our "
    "products, offers and events, at most once a week. You can withdraw at any time with the "
    "link in every message or on this page.";

absl::Status Failed(const std::string& what, const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat(what, ": ", status.error_message()));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return context;
}

bool OkOrExists(const grpc::Status& status) {
  return status.ok() || status.error_code() == grpc::StatusCode::ALREADY_EXISTS;
}

}  // namespace

absl::Status SeedCatalog(v1::CatalogService::Stub& catalog) {
  v1::Tenant tenant;
  grpc::Status s = catalog.CreateTenant(Context().get(), BenchTenantRequest(), &tenant);
  if (!OkOrExists(s)) return Failed("CreateTenant", s);

  v1::CreatePurposeRequest purpose_request = BenchPurposeRequest();
  v1::Purpose* p = purpose_request.mutable_purpose();
  p->add_channels(v1::SMS);
  v1::PurposeText* text = p->add_texts();
  text->set_language("en");
  text->set_display_name("Newsletter");
  text->set_description("News, offers and events, at most once a week.");
  v1::NoticeText* notice = p->add_notices();
  notice->set_notice_version(1);
  notice->set_language("en");
  notice->set_text(kNoticeText);
  v1::Purpose purpose;
  s = catalog.CreatePurpose(Context().get(), purpose_request, &purpose);
  if (!OkOrExists(s)) return Failed("CreatePurpose", s);

  v1::SetDefaultPolicyRequest policy_request;
  policy_request.set_parent(absl::StrCat("tenants/", kTenant));
  v1::PolicyRule* rule = policy_request.mutable_policy()->add_rules();
  rule->set_jurisdiction("*");
  rule->set_mode(v1::OPT_IN);
  rule = policy_request.mutable_policy()->add_rules();
  rule->set_jurisdiction("US");
  rule->set_channel(v1::EMAIL);
  rule->set_purpose_kind(v1::MARKETING);
  rule->set_mode(v1::OPT_OUT);
  v1::DefaultPolicy policy;
  s = catalog.SetDefaultPolicy(Context().get(), policy_request, &policy);
  if (!s.ok()) return Failed("SetDefaultPolicy", s);
  return absl::OkStatus();
}

absl::Status SeedPageSubjects(v1::CatalogService::Stub& catalog, v1::ConsentService::Stub& consent,
                              int64_t count, int threads) {
  // The notice's digest as the catalog computed it, as a page's save would send it.
  v1::GetPurposeRequest get;
  get.set_name(absl::StrCat("tenants/", kTenant, "/purposes/", kPurpose));
  v1::Purpose purpose;
  grpc::Status s = catalog.GetPurpose(Context().get(), get, &purpose);
  if (!s.ok()) return Failed("GetPurpose", s);
  std::string notice_sha256;
  for (const v1::NoticeText& n : purpose.notices()) {
    if (n.notice_version() == purpose.notice_version() && n.language() == "en") {
      notice_sha256 = n.sha256();
    }
  }

  std::atomic<int64_t> next{0};
  std::mutex mu;
  absl::Status first_error;
  auto work = [&] {
    for (int64_t i = next++; i < count; i = next++) {
      const std::string subject = absl::StrCat(kPageSubjectPrefix, i);
      const std::vector<std::vector<std::pair<v1::Channel, v1::ConsentState>>> writes = {
          {{v1::EMAIL, v1::GRANTED}, {v1::SMS, v1::GRANTED}},
          {{v1::SMS, v1::WITHDRAWN}},
          {{v1::SMS, v1::GRANTED}}};
      for (size_t w = 0; w < writes.size(); ++w) {
        v1::RecordDecisionsRequest r;
        r.set_tenant(kTenant);
        r.mutable_target()->set_subject_id(subject);
        r.set_source("preference-center");
        r.set_actor("prefcenter_load");
        r.set_idempotency_key(absl::StrCat("seed-", subject, "-", w));
        r.mutable_evidence()->set_language("en");
        r.mutable_evidence()->set_ip_address("192.0.2.1");
        r.mutable_evidence()->set_user_agent("Mozilla/5.0 (prefcenter_load seed)");
        for (const auto& [channel, state] : writes[w]) {
          v1::DecisionInput* d = r.add_decisions();
          d->set_purpose_id(kPurpose);
          d->set_channel(channel);
          d->set_state(state);
          if (state == v1::GRANTED) {
            d->set_notice_version(purpose.notice_version());
            d->set_notice_sha256(notice_sha256);
          }
        }
        v1::RecordDecisionsResponse response;
        grpc::Status status = consent.RecordDecisions(Context().get(), r, &response);
        if (!status.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.ok())
            first_error = Failed(absl::StrCat("RecordDecisions ", subject), status);
          return;
        }
      }
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) workers.emplace_back(work);
  for (std::thread& t : workers) t.join();
  return first_error;
}

}  // namespace assent::bench
