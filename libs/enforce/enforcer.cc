#include "enforce/enforcer.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "contact/normalize.h"
#include "core/decision.h"
#include "core/validate.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "spdlog/spdlog.h"

namespace assent::enforce {

using sender::v1::VerdictSource;

struct Enforcer::Metrics {
  explicit Metrics(prometheus::Registry& registry, const std::string& sender)
      : caught_up(prometheus::BuildGauge()
                      .Name("assent_sender_caught_up")
                      .Help("1 when the sender's view reached the Kafka high watermarks seen at "
                            "start")
                      .Register(registry)
                      .Add({{"sender", sender}})),
        fresh(prometheus::BuildGauge()
                  .Name("assent_sender_view_fresh")
                  .Help("1 while checks are answered from the local view (caught up, within the "
                        "staleness and lag bounds)")
                  .Register(registry)
                  .Add({{"sender", sender}})),
        staleness(prometheus::BuildGauge()
                      .Name("assent_sender_view_staleness_seconds")
                      .Help("Time since the view was last confirmed to hold everything Kafka had")
                      .Register(registry)
                      .Add({{"sender", sender}})),
        targets(prometheus::BuildGauge()
                    .Name("assent_sender_view_targets")
                    .Help("Subjects and contact points held in the sender's view")
                    .Register(registry)
                    .Add({{"sender", sender}})),
        lag_family(prometheus::BuildGauge()
                       .Name("assent_sender_consumer_lag_records")
                       .Help("Records between the sender's position and the topic's high "
                             "watermark")
                       .Register(registry)),
        checks_family(prometheus::BuildCounter()
                          .Name("assent_sender_checks_total")
                          .Help("Consent checks by where the verdict came from")
                          .Register(registry)),
        events_family(prometheus::BuildCounter()
                          .Name("assent_sender_view_records_total")
                          .Help("Kafka records the view consumed, by what they did")
                          .Register(registry)),
        sender_(sender) {
    for (const char* source : {"local_view", "service", "fail_closed"}) {
      checks[source] = &checks_family.Add({{"sender", sender}, {"source", source}});
    }
    for (const char* result : {"applied", "stale", "erased", "bad", "unknown_type"}) {
      records[result] = &events_family.Add({{"sender", sender}, {"result", result}});
    }
  }
  prometheus::Gauge& Lag(const std::string& topic) {
    return lag_family.Add({{"sender", sender_}, {"topic", topic}});
  }
  void Advance(prometheus::Counter* counter, uint64_t total) {
    const double now = static_cast<double>(total);
    if (now > counter->Value()) counter->Increment(now - counter->Value());
  }

  prometheus::Gauge& caught_up;
  prometheus::Gauge& fresh;
  prometheus::Gauge& staleness;
  prometheus::Gauge& targets;
  prometheus::Family<prometheus::Gauge>& lag_family;
  prometheus::Family<prometheus::Counter>& checks_family;
  prometheus::Family<prometheus::Counter>& events_family;
  std::map<std::string, prometheus::Counter*> checks;
  std::map<std::string, prometheus::Counter*> records;
  std::string sender_;
};

std::string ViewKey(std::string_view tenant, const v1::TargetRef& target) {
  std::string key(tenant);
  key.push_back('/');
  if (target.has_contact()) {
    absl::StrAppend(&key, "c:", Sv(contact::ContactTypeName(target.contact().type())), ":",
                    target.contact().hash());
  } else {
    key.append(target.subject_id());
  }
  return key;
}

Enforcer::Enforcer(EnforcerOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock) {}

Enforcer::~Enforcer() { Stop(); }

absl::StatusOr<std::unique_ptr<Enforcer>> Enforcer::Start(EnforcerOptions options,
                                                          const Clock& clock) {
  if (options.max_staleness <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_staleness: must be positive");
  }
  if (options.max_lag_records < 0) {
    return absl::InvalidArgumentError("max_lag_records: must not be negative");
  }
  std::unique_ptr<Enforcer> e(new Enforcer(std::move(options), clock));
  if (e->options_.registry != nullptr) {
    e->metrics_ = std::make_unique<Metrics>(*e->options_.registry, e->options_.name);
  }
  if (!e->options_.service_address.empty()) {
    ASSIGN_OR_RETURN(e->channel_, rpc::Dial(e->options_.service_address, e->options_.service_tls));
    e->consent_stub_ = v1::ConsentService::NewStub(e->channel_);
    e->catalog_stub_ = v1::CatalogService::NewStub(e->channel_);
  }
  absl::Status fetched = e->RefreshCatalog();
  if (!fetched.ok() && !e->options_.catalog_cache_file.empty()) {
    absl::Status loaded = e->catalog_.Load(e->options_.catalog_cache_file);
    spdlog::warn("msg=\"catalog from the service failed\" error=\"{}\" cache_file=\"{}\"",
                 fetched.ToString(), loaded.ok() ? "loaded" : loaded.ToString());
  }
  e->follower_ = std::make_unique<ViewFollower>(e->options_.follower, e->view_, clock);
  RETURN_IF_ERROR(e->follower_->Start());
  e->maintenance_thread_ = std::thread([raw = e.get()] { raw->MaintenanceLoop(); });
  return e;
}

void Enforcer::Stop() {
  {
    absl::MutexLock lock(&stop_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (maintenance_thread_.joinable()) maintenance_thread_.join();
  if (follower_ != nullptr) follower_->Stop();
}

absl::Status Enforcer::RefreshCatalog() {
  if (catalog_stub_ == nullptr) return absl::FailedPreconditionError("no service_address");
  RETURN_IF_ERROR(
      catalog_.Fetch(*catalog_stub_, options_.tenants, options_.service_deadline, clock_.Now()));
  if (!options_.catalog_cache_file.empty()) {
    absl::Status saved = catalog_.Save(options_.catalog_cache_file);
    if (!saved.ok()) spdlog::warn("msg=\"catalog cache not saved\" error=\"{}\"", saved.ToString());
  }
  return absl::OkStatus();
}

void Enforcer::MaintenanceLoop() {
  absl::Time next_refresh = clock_.Now() + options_.catalog_refresh;
  auto stopping = [this] { return stopping_; };
  while (true) {
    {
      absl::MutexLock lock(&stop_mu_);
      if (stop_mu_.AwaitWithTimeout(absl::Condition(&stopping), absl::Milliseconds(250))) return;
    }
    const absl::Time now = clock_.Now();
    if (catalog_stub_ != nullptr && (now >= next_refresh || refresh_wanted_.exchange(false))) {
      absl::Status s = RefreshCatalog();
      if (!s.ok()) spdlog::warn("msg=\"catalog refresh failed\" error=\"{}\"", s.ToString());
      next_refresh = now + options_.catalog_refresh;
    }
    if (metrics_ != nullptr) {
      const EnforcerStatus st = status();
      metrics_->caught_up.Set(st.follower.caught_up ? 1 : 0);
      metrics_->fresh.Set(st.fresh ? 1 : 0);
      metrics_->staleness.Set(
          st.staleness == absl::InfiniteDuration() ? -1 : absl::ToDoubleSeconds(st.staleness));
      metrics_->targets.Set(static_cast<double>(st.view_targets));
      metrics_->Lag(absl::StrCat(options_.follower.topic_prefix, "consent.state.v1"))
          .Set(static_cast<double>(st.follower.state_lag.records));
      metrics_->Lag(absl::StrCat(options_.follower.topic_prefix, "consent.changes.v1"))
          .Set(static_cast<double>(st.follower.changes_lag.records));
      metrics_->Advance(metrics_->checks["local_view"], checks_local_.load());
      metrics_->Advance(metrics_->checks["service"], checks_service_.load());
      metrics_->Advance(metrics_->checks["fail_closed"], checks_fail_closed_.load());
      metrics_->Advance(metrics_->records["applied"], st.follower.applied);
      metrics_->Advance(metrics_->records["stale"], st.follower.stale);
      metrics_->Advance(metrics_->records["erased"], st.follower.erased);
      metrics_->Advance(metrics_->records["bad"], st.follower.bad_records);
      metrics_->Advance(metrics_->records["unknown_type"], st.follower.unknown_types);
    }
  }
}

std::string Enforcer::TenantKey(std::string_view tenant) const {
  absl::MutexLock lock(&keys_mu_);
  auto it = tenant_keys_.find(absl::string_view(tenant.data(), tenant.size()));
  if (it == tenant_keys_.end()) {
    it = tenant_keys_
             .emplace(std::string(tenant),
                      contact::DeriveTenantKey(options_.contact_key_secret, tenant))
             .first;
  }
  return it->second;
}

absl::StatusOr<Recipient> Enforcer::Resolve(std::string_view tenant, const v1::Target& target,
                                            std::string_view field) const {
  RETURN_IF_ERROR(core::ValidateTenantId("tenant", tenant));
  Recipient r;
  r.tenant = std::string(tenant);
  r.target = target;
  if (target.has_contact_point()) {
    if (options_.contact_key_secret.empty()) {
      return absl::FailedPreconditionError(
          "contact points cannot be checked: no contact-key secret configured");
    }
    ASSIGN_OR_RETURN(*r.ref.mutable_contact(),
                     contact::ToRef(absl::StrCat(Sv(field), ".contact_point"), TenantKey(tenant),
                                    target.contact_point()));
  } else if (target.has_contact_ref()) {
    // Already the keyed hash: it names the contact point in the view as it is.
    RETURN_IF_ERROR(
        contact::ValidateRef(absl::StrCat(Sv(field), ".contact_ref"), target.contact_ref()));
    *r.ref.mutable_contact() = target.contact_ref();
  } else if (target.has_subject_id()) {
    RETURN_IF_ERROR(
        core::ValidateSubjectId(absl::StrCat(Sv(field), ".subject_id"), target.subject_id()));
    r.ref.set_subject_id(target.subject_id());
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(Sv(field), ": required (subject_id, contact_point or contact_ref)"));
  }
  r.key = ViewKey(tenant, r.ref);
  return r;
}

bool Enforcer::FreshAt(absl::Time now) const {
  const ViewFollower::Freshness f = follower_->freshness();
  return f.caught_up && now - f.current_as_of <= options_.max_staleness &&
         f.changes_lag_records <= options_.max_lag_records;
}

bool Enforcer::Fresh() const { return FreshAt(clock_.Now()); }

absl::StatusOr<v1::CheckResponse> CheckInView(const ConsentView& view, const Catalog& catalog,
                                              const CheckParams& params, const Recipient& recipient,
                                              absl::Time now) {
  const TenantCatalog* tenant = catalog.FindTenant(params.tenant);
  if (tenant == nullptr)
    return absl::NotFoundError(absl::StrCat("tenant not found: ", Sv(params.tenant)));
  auto purpose = tenant->purposes.find(params.purpose_id);
  if (purpose == tenant->purposes.end()) {
    return absl::NotFoundError(
        absl::StrCat("purpose_id: purpose not found: ", Sv(params.purpose_id)));
  }
  core::CheckInput input;
  input.purpose = &purpose->second;
  input.policy = &tenant->policy;
  input.channel = params.channel;
  input.topic = params.topic;
  input.now = now;
  input.jurisdiction = params.jurisdiction;
  // Parsed into per-thread messages that keep their allocations from check to check.
  thread_local v1::SubjectState subject_state;
  thread_local v1::ContactPointState contact_state;
  absl::StatusOr<v1::CheckResponse> response;
  auto parse_subject = [&](const ViewEntry* subject) {
    input.subject =
        subject != nullptr && subject->ParseSubject(subject_state) ? &subject_state : nullptr;
    input.subject_erased = subject != nullptr && subject->kind == ViewEntry::Kind::kErased;
    if (input.subject_erased && !recipient.ref.has_contact()) {
      input.erased_subject_id = recipient.ref.subject_id();
    }
  };
  if (recipient.ref.has_contact()) {
    view.ReadLinked(
        recipient.key, params.tenant, [&](const ViewEntry* contact, const ViewEntry* subject) {
          input.contact =
              contact != nullptr && contact->ParseContact(contact_state) ? &contact_state : nullptr;
          parse_subject(subject);
        });
  } else {
    view.ReadWith(recipient.key, parse_subject);
  }
  response = core::Decide(input);
  return response;
}

absl::StatusOr<Verdict> Enforcer::CheckLocal(const Catalog& catalog, const CheckParams& params,
                                             const Recipient& recipient, absl::Time now) const {
  ASSIGN_OR_RETURN(v1::CheckResponse response, CheckInView(view_, catalog, params, recipient, now));
  return Verdict{std::move(response), sender::v1::LOCAL_VIEW};
}

absl::StatusOr<Verdict> Enforcer::CheckService(const CheckParams& params,
                                               const Recipient& recipient, absl::Time now) const {
  if (consent_stub_ == nullptr) return absl::UnavailableError("no service_address configured");
  v1::CheckRequest request;
  request.set_tenant(std::string(params.tenant));
  *request.mutable_target() = recipient.target;
  request.set_purpose_id(std::string(params.purpose_id));
  request.set_channel(params.channel);
  request.set_topic(std::string(params.topic));
  request.set_jurisdiction(std::string(params.jurisdiction));
  *request.mutable_time() = ToProto(now);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(options_.service_deadline));
  Verdict verdict;
  grpc::Status status = consent_stub_->Check(&context, request, &verdict.response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  verdict.source = sender::v1::SERVICE;
  return verdict;
}

Verdict Enforcer::FailClosed(const Catalog& catalog, const CheckParams& params) const {
  Verdict verdict;
  verdict.source = sender::v1::FAIL_CLOSED;
  const v1::Purpose* purpose = catalog.FindPurpose(params.tenant, params.purpose_id);
  if (purpose != nullptr && purpose->kind() == v1::TRANSACTIONAL) {
    verdict.response.set_verdict(v1::ALLOW);
    verdict.response.set_reason(v1::TRANSACTIONAL_ALLOWED);
  } else {
    verdict.response.set_verdict(v1::DENY);
    verdict.response.set_reason(v1::ENFORCEMENT_UNAVAILABLE);
  }
  return verdict;
}

absl::Status Enforcer::ValidateParams(const CheckParams& params) const {
  if (!params.topic.empty()) RETURN_IF_ERROR(core::ValidateTopic("topic", params.topic));
  if (!params.jurisdiction.empty()) {
    RETURN_IF_ERROR(core::ValidateJurisdiction("jurisdiction", params.jurisdiction));
  }
  return absl::OkStatus();
}

void Enforcer::WarnFailClosed(const absl::Status& why) const {
  // At most one line a second: a sender failing closed may check thousands of times a second.
  const int64_t now = absl::ToUnixNanos(clock_.Now());
  int64_t last = last_fail_closed_log_ns_.load(std::memory_order_relaxed);
  if (now - last < 1000000000 ||
      !last_fail_closed_log_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    return;
  }
  spdlog::warn("msg=\"failing closed: view not fresh and service unavailable\" error=\"{}\"",
               why.ToString());
}

absl::StatusOr<Verdict> Enforcer::Check(const CheckParams& params,
                                        const Recipient& recipient) const {
  if (params.tenant != recipient.tenant) {
    return absl::InvalidArgumentError("tenant: the recipient was resolved for another tenant");
  }
  RETURN_IF_ERROR(ValidateParams(params));
  const absl::Time now = params.time.value_or(clock_.Now());
  const std::shared_ptr<const Catalog> catalog = catalog_.Snapshot();
  bool ask_service = !FreshAt(clock_.Now());
  if (!ask_service) {
    absl::StatusOr<Verdict> local = CheckLocal(*catalog, params, recipient, now);
    if (local.ok() || local.status().code() != absl::StatusCode::kNotFound) {
      if (local.ok()) checks_local_.fetch_add(1, std::memory_order_relaxed);
      return local;
    }
    // Unknown locally: maybe created since the catalog was read. Ask the service, and refresh.
    RETURN_IF_ERROR(core::ValidatePurposeId("purpose_id", params.purpose_id));
    refresh_wanted_.store(true, std::memory_order_relaxed);
    ask_service = true;
  }
  absl::StatusOr<Verdict> remote = CheckService(params, recipient, now);
  if (remote.ok()) {
    checks_service_.fetch_add(1, std::memory_order_relaxed);
    return remote;
  }
  switch (remote.status().code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
      return remote.status();
    default:
      break;
  }
  WarnFailClosed(remote.status());
  checks_fail_closed_.fetch_add(1, std::memory_order_relaxed);
  return FailClosed(*catalog, params);
}

absl::StatusOr<std::vector<Verdict>> Enforcer::BatchCheck(
    const CheckParams& params, const std::vector<Recipient>& recipients) const {
  RETURN_IF_ERROR(ValidateParams(params));
  for (size_t i = 0; i < recipients.size(); ++i) {
    if (recipients[i].tenant != params.tenant) {
      return absl::InvalidArgumentError(
          absl::StrCat("recipients[", i, "]: resolved for another tenant"));
    }
  }
  std::vector<Verdict> verdicts;
  verdicts.reserve(recipients.size());
  const absl::Time now = params.time.value_or(clock_.Now());
  const std::shared_ptr<const Catalog> catalog = catalog_.Snapshot();
  if (FreshAt(clock_.Now())) {
    absl::Status status;
    for (const Recipient& r : recipients) {
      absl::StatusOr<v1::CheckResponse> local = CheckInView(view_, *catalog, params, r, now);
      if (!local.ok()) {
        status = local.status();
        break;
      }
      verdicts.push_back({*std::move(local), sender::v1::LOCAL_VIEW});
    }
    if (status.ok()) {
      checks_local_.fetch_add(recipients.size(), std::memory_order_relaxed);
      return verdicts;
    }
    if (status.code() != absl::StatusCode::kNotFound) return status;
    RETURN_IF_ERROR(core::ValidatePurposeId("purpose_id", params.purpose_id));
    refresh_wanted_.store(true, std::memory_order_relaxed);
    verdicts.clear();
  }
  absl::Status remote = absl::UnavailableError("no service_address configured");
  if (consent_stub_ != nullptr) {
    constexpr size_t kChunk = 10000;  // the service's default BatchCheck limit
    remote = absl::OkStatus();
    for (size_t begin = 0; begin < recipients.size() && remote.ok(); begin += kChunk) {
      v1::BatchCheckRequest request;
      request.set_tenant(std::string(params.tenant));
      request.set_purpose_id(std::string(params.purpose_id));
      request.set_channel(params.channel);
      request.set_topic(std::string(params.topic));
      *request.mutable_time() = ToProto(now);
      const size_t end = std::min(recipients.size(), begin + kChunk);
      for (size_t i = begin; i < end; ++i) *request.add_targets() = recipients[i].target;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           absl::ToChronoMilliseconds(options_.service_deadline * 4));
      v1::BatchCheckResponse response;
      grpc::Status status = consent_stub_->BatchCheck(&context, request, &response);
      if (!status.ok()) {
        remote = absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                              status.error_message());
        break;
      }
      for (v1::CheckResponse& r : *response.mutable_results()) {
        verdicts.push_back({std::move(r), sender::v1::SERVICE});
      }
    }
  }
  if (remote.ok()) {
    checks_service_.fetch_add(recipients.size(), std::memory_order_relaxed);
    return verdicts;
  }
  switch (remote.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
      return remote;
    default:
      break;
  }
  WarnFailClosed(remote);
  checks_fail_closed_.fetch_add(recipients.size(), std::memory_order_relaxed);
  verdicts.assign(recipients.size(), FailClosed(*catalog, params));
  return verdicts;
}

absl::StatusOr<Verdict> Enforcer::Check(const v1::CheckRequest& request) const {
  ASSIGN_OR_RETURN(Recipient recipient, Resolve(request.tenant(), request.target()));
  CheckParams params;
  params.tenant = request.tenant();
  params.purpose_id = request.purpose_id();
  params.channel = request.channel();
  params.topic = request.topic();
  params.jurisdiction = request.jurisdiction();
  if (request.has_time()) {
    RETURN_IF_ERROR(ValidateTimestamp("time", request.time()));
    params.time = FromProto(request.time());
  }
  return Check(params, recipient);
}

std::vector<std::pair<int32_t, int64_t>> Enforcer::ChangesProgress() const {
  return follower_->ChangesProgress();
}

EnforcerStatus Enforcer::status() const {
  EnforcerStatus s;
  s.follower = follower_->status();
  const absl::Time now = clock_.Now();
  s.fresh = FreshAt(now);
  if (s.follower.current_as_of != absl::InfinitePast())
    s.staleness = now - s.follower.current_as_of;
  s.view_targets = view_.size();
  s.catalog_fetch_time = catalog_.Snapshot()->fetch_time;
  return s;
}

}  // namespace assent::enforce
