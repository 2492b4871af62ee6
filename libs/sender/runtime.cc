#include "sender/runtime.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "contact/normalize.h"
#include "core/validate.h"
#include "sender/client_tls.h"
#include "spdlog/spdlog.h"

namespace assent::sender {

std::vector<SettingSpec> CommonSpecs(const std::string& name) {
  std::vector<SettingSpec> specs = {
      {"kafka.brokers", "127.0.0.1:9092", "Kafka bootstrap servers"},
      {"kafka.topic_prefix", "assent.", "prefix of Assent's topics, as configured in consentd"},
      {"kafka.group_id", absl::StrCat("assent-", name, "-sender"),
       "consumer group of the request topics"},
      {"instance_id", "0",
       "unique per running instance of this sender (part of the Kafka transactional id)"},
      {"service", "127.0.0.1:50051", "consentd's gRPC address (fallback Check, catalog, writes)"},
      {"contact_key_secret_file", "",
       "file with the deployment's contact-key secret (consentd's contact_key_secret_file); "
       "required"},
      {"metrics_listen", "127.0.0.1:0", "HTTP address of /metrics, /healthz, /readyz"},
      {"port_file", "", "write the bound metrics address here once serving"},
      {"log_level", "info", "trace, debug, info, warn or error"},
      {"enforcement.max_staleness", "2s",
       "local verdicts only while the view was confirmed current this recently"},
      {"enforcement.max_lag_records", "10000", "... and is at most this many changes behind"},
      {"enforcement.service_deadline", "500ms", "deadline of a fallback Check"},
      {"enforcement.catalog_cache_file", "", "where the catalog is kept between runs"},
      {"tenants", "", "comma-separated tenants served (empty: all)"},
      {"enforcement.instance_id", "",
       "this instance's id in its enforcement progress reports (empty: <hostname>-<pid>)"},
      {"enforcement.report_interval", "1s",
       "heartbeat period of the enforcement progress reports (consentd's proof of enforcement)"},
  };
  for (SettingSpec& spec : ClientTlsSpecs()) specs.push_back(std::move(spec));
  return specs;
}

std::vector<std::string> CommonOpenPrefixes() { return {"kafka.consumer.", "kafka.producer."}; }

void ExitAfter(absl::Duration grace, int exit_code) {
  std::thread([grace, exit_code] {
    absl::SleepFor(grace);
    spdlog::warn("msg=\"shutdown took too long (Kafka unreachable?); exiting now\" limit={}",
                 absl::FormatDuration(grace));
    spdlog::default_logger()->flush();
    std::_Exit(exit_code);
  }).detach();
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& key, const std::string& path) {
  if (path.empty()) return InvalidField(key, "required");
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidField(key, absl::StrCat("cannot read ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string secret(absl::StripAsciiWhitespace(buffer.str()));
  if (secret.size() < 16) return InvalidField(key, "the secret must be at least 16 bytes");
  return secret;
}

absl::StatusOr<CommonConfig> ReadCommon(const std::string& name, const Settings& s) {
  CommonConfig c;
  c.name = name;
  c.kafka_brokers = s.String("kafka.brokers");
  if (c.kafka_brokers.empty()) return InvalidField("kafka.brokers", "required");
  c.topic_prefix = s.String("kafka.topic_prefix");
  c.group_id = s.String("kafka.group_id");
  if (c.group_id.empty()) return InvalidField("kafka.group_id", "required");
  c.instance_id = s.String("instance_id");
  c.consumer_overrides = s.WithPrefix("kafka.consumer.");
  c.producer_overrides = s.WithPrefix("kafka.producer.");
  c.service = s.String("service");
  ASSIGN_OR_RETURN(c.service_tls, ReadClientTls(s));
  ASSIGN_OR_RETURN(c.contact_key_secret,
                   ReadSecretFile("contact_key_secret_file", s.String("contact_key_secret_file")));
  c.metrics_listen = s.String("metrics_listen");
  c.port_file = s.String("port_file");
  ASSIGN_OR_RETURN(c.max_staleness,
                   s.Duration("enforcement.max_staleness", absl::Milliseconds(10)));
  ASSIGN_OR_RETURN(c.max_lag_records, s.Int("enforcement.max_lag_records", 0, INT64_MAX));
  ASSIGN_OR_RETURN(c.service_deadline,
                   s.Duration("enforcement.service_deadline", absl::Milliseconds(1)));
  c.catalog_cache_file = s.String("enforcement.catalog_cache_file");
  c.enforcement_instance_id = s.String("enforcement.instance_id");
  if (c.enforcement_instance_id.empty()) c.enforcement_instance_id = enforce::DefaultInstanceId();
  ASSIGN_OR_RETURN(c.report_interval,
                   s.Duration("enforcement.report_interval", absl::Milliseconds(10)));
  for (absl::string_view t : absl::StrSplit(s.String("tenants"), ',', absl::SkipWhitespace())) {
    std::string tenant(absl::StripAsciiWhitespace(t));
    RETURN_IF_ERROR(core::ValidateTenantId("tenants", tenant));
    c.tenants.push_back(std::move(tenant));
  }
  const std::string level = s.String("log_level");
  spdlog::level::level_enum parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off") {
    return InvalidField("log_level", "must be trace, debug, info, warn or error");
  }
  spdlog::set_level(parsed);
  return c;
}

SenderRuntime::SenderRuntime(CommonConfig config, const Clock& clock)
    : config_(std::move(config)),
      clock_(clock),
      registry_(std::make_shared<prometheus::Registry>()) {}

SenderRuntime::~SenderRuntime() {
  http_.reset();
  if (reporter_ != nullptr) reporter_->Stop();
  if (enforcer_ != nullptr) enforcer_->Stop();
}

absl::StatusOr<std::unique_ptr<SenderRuntime>> SenderRuntime::Start(
    const CommonConfig& config, const Clock& clock, std::function<void(std::string_view)> on_change,
    std::function<enforce::ChangesProgress()> progress) {
  std::unique_ptr<SenderRuntime> rt(new SenderRuntime(config, clock));
  rt->sends_ = &prometheus::BuildCounter()
                    .Name("assent_sender_sends_total")
                    .Help("Messages handed to the transport")
                    .Register(*rt->registry_);
  rt->suppressions_ = &prometheus::BuildCounter()
                           .Name("assent_sender_suppressions_total")
                           .Help(
                               "Messages not sent because consent or a suppression forbids "
                               "them (or deferred by quiet hours), by reason")
                           .Register(*rt->registry_);
  rt->outcomes_ = &prometheus::BuildCounter()
                       .Name("assent_sender_outcomes_total")
                       .Help("Send outcomes published, by status")
                       .Register(*rt->registry_);
  enforce::EnforcerOptions options;
  options.follower.brokers = config.kafka_brokers;
  options.follower.topic_prefix = config.topic_prefix;
  options.follower.on_change = std::move(on_change);
  options.service_address = config.service;
  options.service_tls = config.service_tls;
  options.contact_key_secret = config.contact_key_secret;
  options.tenants = config.tenants;
  options.max_staleness = config.max_staleness;
  options.max_lag_records = config.max_lag_records;
  options.service_deadline = config.service_deadline;
  options.catalog_cache_file = config.catalog_cache_file;
  options.name = config.name;
  options.registry = rt->registry_;
  ASSIGN_OR_RETURN(rt->enforcer_, enforce::Enforcer::Start(std::move(options), clock));
  enforce::ReporterOptions report;
  report.brokers = config.kafka_brokers;
  report.topic_prefix = config.topic_prefix;
  report.producer_overrides = config.producer_overrides;
  report.sender = config.name;
  report.instance_id = config.enforcement_instance_id;
  report.interval = config.report_interval;
  if (progress) {
    report.progress = std::move(progress);
  } else {
    report.progress = [enforcer = rt->enforcer_.get()] { return enforcer->ChangesProgress(); };
  }
  ASSIGN_OR_RETURN(rt->reporter_, enforce::ProgressReporter::Start(std::move(report), clock));
  if (!config.metrics_listen.empty()) {
    SenderRuntime* raw = rt.get();
    ASSIGN_OR_RETURN(
        rt->http_, metrics::HttpServer::Start(config.metrics_listen, {rt->registry_},
                                              [raw]() -> metrics::Readiness {
                                                if (!raw->enforcer_->status().follower.caught_up) {
                                                  return {false, "view not caught up"};
                                                }
                                                if (!raw->running_.load())
                                                  return {false, "not consuming"};
                                                return {true, ""};
                                              }));
    spdlog::info("msg=\"metrics serving\" sender={} address={}", config.name, rt->http_->address());
    if (!config.port_file.empty()) {
      std::ofstream out(config.port_file + ".tmp");
      out << rt->http_->address() << "\n";
      out.close();
      std::rename((config.port_file + ".tmp").c_str(), config.port_file.c_str());
    }
  }
  return rt;
}

absl::StatusOr<SendDecision> SenderRuntime::Decide(const v1::SendRequest& request,
                                                   assent::v1::Channel channel,
                                                   assent::v1::ContactType expected_type) const {
  RETURN_IF_ERROR(core::ValidateTenantId("tenant", request.tenant()));
  if (!request.has_contact_point()) return InvalidField("contact_point", "required");
  if (request.contact_point().type() != expected_type) {
    return InvalidField("contact_point.type",
                        absl::StrCat("must be ", assent::v1::ContactType_Name(expected_type),
                                     " for the ", config_.name, " sender"));
  }
  SendDecision decision;
  ASSIGN_OR_RETURN(decision.address, contact::Normalize("contact_point", request.contact_point()));
  assent::v1::Target target;
  *target.mutable_contact_point() = request.contact_point();
  ASSIGN_OR_RETURN(decision.recipient, enforcer_->Resolve(request.tenant(), target));
  enforce::CheckParams params;
  params.tenant = request.tenant();
  params.purpose_id = request.purpose_id();
  params.channel = channel;
  params.topic = request.topic();
  params.jurisdiction = request.jurisdiction();
  ASSIGN_OR_RETURN(decision.verdict, enforcer_->Check(params, decision.recipient));
  if (!request.subject_id().empty() && decision.verdict.response.verdict() == assent::v1::ALLOW) {
    assent::v1::Target subject;
    subject.set_subject_id(request.subject_id());
    ASSIGN_OR_RETURN(enforce::Recipient r,
                     enforcer_->Resolve(request.tenant(), subject, "subject_id"));
    // The contact point's linked subject was judged already; another subject id is judged too.
    ASSIGN_OR_RETURN(enforce::Verdict by_subject, enforcer_->Check(params, r));
    if (by_subject.response.verdict() != assent::v1::ALLOW) decision.verdict = by_subject;
  }
  return decision;
}

v1::SendOutcome SenderRuntime::Outcome(const v1::SendRequest& request,
                                       v1::SendOutcome::Status status,
                                       const enforce::Verdict* verdict) const {
  v1::SendOutcome out;
  out.set_request_id(request.request_id());
  out.set_tenant(request.tenant());
  out.set_status(status);
  out.set_sender(config_.name);
  *out.mutable_decide_time() = ToProto(clock_.Now());
  if (verdict != nullptr) {
    out.set_reason(verdict->response.reason());
    out.set_record_id(verdict->response.record_id());
    out.set_record_sequence(verdict->response.record_sequence());
    if (verdict->response.has_decided_by()) {
      *out.mutable_decided_by() = verdict->response.decided_by();
    }
    out.set_verdict_source(verdict->source);
    if (verdict->response.has_retry_after()) {
      *out.mutable_retry_after() = verdict->response.retry_after();
    }
  }
  return out;
}

void SenderRuntime::Count(const v1::SendOutcome& outcome, assent::v1::Channel channel) {
  const std::string ch = absl::AsciiStrToLower(assent::v1::Channel_Name(channel));
  outcomes_
      ->Add({{"sender", config_.name},
             {"status", absl::AsciiStrToLower(v1::SendOutcome::Status_Name(outcome.status()))}})
      .Increment();
  if (outcome.status() == v1::SendOutcome::SENT) {
    sends_->Add({{"sender", config_.name}, {"channel", ch}}).Increment();
  } else if (outcome.status() == v1::SendOutcome::SUPPRESSED ||
             outcome.status() == v1::SendOutcome::DEFERRED) {
    suppressions_
        ->Add({{"sender", config_.name},
               {"channel", ch},
               {"reason", absl::AsciiStrToLower(assent::v1::Reason_Name(outcome.reason()))}})
        .Increment();
  }
}

}  // namespace assent::sender
