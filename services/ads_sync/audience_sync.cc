#include "ads_sync/audience_sync.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace assent::ads {

bool EnforcerConsent::CaughtUp() const { return enforcer_.status().follower.caught_up; }

absl::StatusOr<enforce::Recipient> EnforcerConsent::Resolve(std::string_view tenant,
                                                            const v1::Target& target) const {
  return enforcer_.Resolve(tenant, target, "audience");
}

absl::StatusOr<enforce::Verdict> EnforcerConsent::Check(const enforce::CheckParams& params,
                                                        const enforce::Recipient& recipient) const {
  return enforcer_.Check(params, recipient);
}

std::string EnforcerConsent::LinkedSubject(std::string_view contact_key) const {
  std::string subject;
  enforcer_.view().ReadWith(contact_key, [&](const enforce::ViewEntry* entry) {
    if (entry != nullptr) subject = entry->linked_subject_id;
  });
  return subject;
}

void ChangeQueue::Push(std::string_view key) {
  if (!key.starts_with(prefix_)) return;
  absl::MutexLock lock(&mu_);
  if (enabled_ && !stopped_) keys_.emplace(key);
}

void ChangeQueue::Enable() {
  absl::MutexLock lock(&mu_);
  enabled_ = true;
}

std::vector<std::string> ChangeQueue::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopped_ || !keys_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  std::vector<std::string> out;
  if (stopped_) return out;
  out.reserve(keys_.size());
  for (const std::string& key : keys_) out.push_back(key);
  keys_.clear();
  return out;
}

void ChangeQueue::Stop() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

bool ChangeQueue::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

struct AudienceSync::Metrics {
  Metrics(prometheus::Registry& registry, const std::string& sender)
      : members(prometheus::BuildGauge()
                    .Name("assent_sender_audience_members")
                    .Help("Distinct contact points in the managed ads audience")
                    .Register(registry)
                    .Add({{"sender", sender}})),
        suppressed(prometheus::BuildGauge()
                       .Name("assent_sender_audience_suppressed")
                       .Help("Ad-platform hashes in the suppression file's current set")
                       .Register(registry)
                       .Add({{"sender", sender}})),
        writes(prometheus::BuildCounter()
                   .Name("assent_sender_suppression_file_writes_total")
                   .Help("Times the suppression file was replaced")
                   .Register(registry)
                   .Add({{"sender", sender}})),
        write_errors(prometheus::BuildCounter()
                         .Name("assent_sender_suppression_file_write_errors_total")
                         .Help("Failed attempts to replace the suppression file (retried)")
                         .Register(registry)
                         .Add({{"sender", sender}})),
        check_errors(prometheus::BuildCounter()
                         .Name("assent_sender_audience_check_errors_total")
                         .Help("Member checks that returned an error (the member is suppressed)")
                         .Register(registry)
                         .Add({{"sender", sender}})) {}
  prometheus::Gauge& members;
  prometheus::Gauge& suppressed;
  prometheus::Counter& writes;
  prometheus::Counter& write_errors;
  prometheus::Counter& check_errors;
};

AudienceSync::AudienceSync(SyncOptions options, const ConsentSource& source,
                           prometheus::Registry& registry)
    : options_(std::move(options)),
      source_(source),
      metrics_(std::make_unique<Metrics>(registry, options_.name)) {
  // ReadSuppressionFile takes a missing file for an empty set; here a missing file must be
  // written even when the set is empty, so that readers find one.
  struct stat st;
  if (::stat(options_.suppression_file.c_str(), &st) != 0) return;
  absl::StatusOr<audience::SuppressionSet> existing =
      audience::ReadSuppressionFile(options_.suppression_file);
  if (existing.ok()) {
    on_disk_ = existing->hashes();
  } else {
    // Unknown contents: the first evaluation rewrites the file whatever the set.
    spdlog::warn("ads sync: existing suppression file ignored: {}", existing.status().ToString());
  }
}

AudienceSync::~AudienceSync() = default;

absl::Status AudienceSync::SetAudience(const std::vector<AudienceEntry>& entries) {
  std::vector<Member> members;
  absl::flat_hash_map<std::string, size_t> by_contact_key;
  members.reserve(entries.size());
  for (const AudienceEntry& entry : entries) {
    v1::Target target;
    target.mutable_contact_point()->set_type(entry.type);
    target.mutable_contact_point()->set_value(entry.normalized);
    absl::StatusOr<enforce::Recipient> recipient = source_.Resolve(options_.tenant, target);
    if (!recipient.ok()) {
      return absl::Status(
          recipient.status().code(),
          absl::StrCat("audience line ", entry.line, ": ", recipient.status().message()));
    }
    if (by_contact_key.contains(recipient->key)) continue;  // the same contact point again
    absl::StatusOr<std::string> hash =
        audience::AdPlatformHash(options_.platform, entry.type, entry.normalized);
    if (!hash.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("audience line ", entry.line, ": ", hash.status().message()));
    }
    by_contact_key.emplace(recipient->key, members.size());
    Member member;
    member.line = entry.line;
    member.ad_hash = *std::move(hash);
    member.recipient = *std::move(recipient);
    members.push_back(std::move(member));
  }
  members_ = std::move(members);
  by_contact_key_ = std::move(by_contact_key);
  by_subject_.clear();
  denied_per_hash_.clear();
  // Rebuilt from nothing: whether it differs from the file is only known by comparing.
  set_ = audience::SuppressionSet();
  compare_needed_ = true;
  UpdateGauges();
  return absl::OkStatus();
}

void AudienceSync::RefreshLink(size_t index) {
  Member& member = members_[index];
  const std::string subject = source_.LinkedSubject(member.recipient.key);
  std::string key = subject.empty() ? "" : absl::StrCat(options_.tenant, "/", subject);
  if (key == member.subject_key) return;
  if (!member.subject_key.empty()) {
    auto it = by_subject_.find(member.subject_key);
    if (it != by_subject_.end()) {
      it->second.erase(index);
      if (it->second.empty()) by_subject_.erase(it);
    }
  }
  if (!key.empty()) by_subject_[key].insert(index);
  member.subject_key = std::move(key);
}

void AudienceSync::Evaluate(Member& member, int& check_errors, absl::Status& first_error) {
  enforce::CheckParams params;
  params.tenant = options_.tenant;
  params.purpose_id = options_.purpose_id;
  params.channel = v1::TARGETED_ADS;
  absl::StatusOr<enforce::Verdict> verdict = source_.Check(params, member.recipient);
  bool denied = true;
  if (verdict.ok()) {
    denied = verdict->response.verdict() != v1::ALLOW;
  } else {
    // Consent that cannot be known is treated as refused.
    if (check_errors++ == 0) first_error = verdict.status();
    metrics_->check_errors.Increment();
  }
  if (denied == member.denied) return;
  member.denied = denied;
  if (denied) {
    if (++denied_per_hash_[member.ad_hash] == 1) set_.Add(member.ad_hash);
  } else {
    auto it = denied_per_hash_.find(member.ad_hash);
    if (it != denied_per_hash_.end() && --it->second == 0) {
      denied_per_hash_.erase(it);
      set_.Remove(member.ad_hash);
    }
  }
}

void AudienceSync::LogCheckErrors(int check_errors, const absl::Status& first_error) const {
  if (check_errors == 0) return;
  // One line per pass, not per member; the error names no address (Check's errors do not).
  spdlog::warn("ads sync: {} member check(s) failed, suppressed until they succeed; first: {}",
               check_errors, first_error.ToString());
}

absl::Status AudienceSync::EvaluateAll() {
  int check_errors = 0;
  absl::Status first_error;
  for (size_t i = 0; i < members_.size(); ++i) {
    RefreshLink(i);
    Evaluate(members_[i], check_errors, first_error);
  }
  LogCheckErrors(check_errors, first_error);
  return Flush();
}

absl::Status AudienceSync::Apply(const std::vector<std::string>& keys) {
  const std::string contact_prefix = absl::StrCat(options_.tenant, "/c:");
  absl::flat_hash_set<size_t> affected;
  for (const std::string& key : keys) {
    if (key.starts_with(contact_prefix)) {
      auto it = by_contact_key_.find(key);
      if (it == by_contact_key_.end()) continue;
      // A change of the contact point's own state may have linked or unlinked it.
      RefreshLink(it->second);
      affected.insert(it->second);
    } else {
      auto it = by_subject_.find(key);
      if (it != by_subject_.end()) affected.insert(it->second.begin(), it->second.end());
    }
  }
  int check_errors = 0;
  absl::Status first_error;
  for (size_t index : affected) Evaluate(members_[index], check_errors, first_error);
  LogCheckErrors(check_errors, first_error);
  spdlog::debug("ads sync: {} changed key(s) affected {} member(s)", keys.size(), affected.size());
  return Flush();
}

absl::Status AudienceSync::Flush() {
  UpdateGauges();
  if (!write_pending()) return absl::OkStatus();
  if (on_disk_.has_value() && *on_disk_ == set_.hashes()) {
    compare_needed_ = false;
    set_.MarkClean();
    return absl::OkStatus();
  }
  absl::Status written = audience::WriteSuppressionFile(options_.suppression_file, set_);
  if (!written.ok()) {
    metrics_->write_errors.Increment();
    spdlog::warn("ads sync: {}", written.ToString());
    return written;
  }
  on_disk_ = set_.hashes();
  compare_needed_ = false;
  set_.MarkClean();
  ++writes_;
  metrics_->writes.Increment();
  spdlog::info("ads sync: suppression file written: members={} suppressed={}", members_.size(),
               set_.size());
  return absl::OkStatus();
}

void AudienceSync::UpdateGauges() {
  metrics_->members.Set(static_cast<double>(members_.size()));
  metrics_->suppressed.Set(static_cast<double>(set_.size()));
}

}  // namespace assent::ads
