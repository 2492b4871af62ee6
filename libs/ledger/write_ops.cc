// Consent and preference writes. Each validates the whole request first (nothing is written on
// bad input), then runs as one committer mutation: idempotency check, state change, history
// record in the target's hash chain, outbox records, idempotency record, all in one batch.
#include <algorithm>
#include <optional>
#include <set>
#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "contact/normalize.h"
#include "core/consent_signals.h"
#include "core/decision.h"
#include "core/validate.h"
#include "ledger/change.h"
#include "ledger/due.h"
#include "ledger/ledger.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr int kMaxContactsPerSubject = 100;
constexpr size_t kMaxReferenceLength = 256;
constexpr size_t kMaxOriginLength = 128;

bool SameKey(const v1::ConsentRecord& a, const v1::ConsentRecord& b) {
  return a.purpose_id() == b.purpose_id() && a.channel() == b.channel() && a.topic() == b.topic();
}

bool IsDenial(v1::ConsentState s) { return s != v1::GRANTED; }

// Whether `incoming` should replace `existing` as the current decision for its key: the later
// effective time wins; at the same time the denial wins (as in the decision rule).
bool Supersedes(const v1::ConsentRecord& incoming, const v1::ConsentRecord& existing) {
  const absl::Time a = FromProto(incoming.effective_time());
  const absl::Time b = FromProto(existing.effective_time());
  if (a != b) return a > b;
  return IsDenial(incoming.state()) || !IsDenial(existing.state());
}

// Sets a refusal's or withdrawal's honour_by from the deadline rules (clears it for any other
// state, and when no rule applies).
void SetHonourBy(const std::vector<core::DeadlineRule>& rules, const v1::Purpose& purpose,
                 std::string_view jurisdiction, v1::ConsentRecord& record) {
  record.clear_honour_by();
  core::DeadlineAction action;
  if (record.state() == v1::DENIED) {
    action = core::DeadlineAction::kRefusal;
  } else if (record.state() == v1::WITHDRAWN) {
    action = core::DeadlineAction::kWithdrawal;
  } else {
    return;
  }
  // A decision without a channel covers every channel of its purpose, so it must be honoured by
  // the earliest of their deadlines.
  std::vector<v1::Channel> channels;
  if (record.channel() != v1::CHANNEL_UNSPECIFIED) {
    channels.push_back(record.channel());
  } else {
    for (int c : purpose.channels()) channels.push_back(static_cast<v1::Channel>(c));
  }
  const std::optional<core::Deadline> deadline =
      core::HonourBy(rules, {.action = action,
                             .channels = channels,
                             .jurisdiction = jurisdiction,
                             .purpose_kind = purpose.kind(),
                             .time = FromProto(record.effective_time())});
  if (deadline.has_value()) *record.mutable_honour_by() = ToProto(deadline->honour_by);
}

// The jurisdiction a subject is known by when a request names none: its stated one, else the
// last one a request recorded (as the decision rule's).
const std::string& KnownJurisdiction(const v1::SubjectState& subject) {
  return subject.preferences().jurisdiction().empty() ? subject.last_jurisdiction()
                                                      : subject.preferences().jurisdiction();
}

// The known jurisdiction of the subject a contact point is linked to; empty when it is not linked.
absl::StatusOr<std::string> LinkedJurisdiction(store::Txn& txn, std::string_view tenant,
                                               const v1::ContactPointState& contact) {
  if (contact.linked_subject_id().empty()) return std::string();
  ASSIGN_OR_RETURN(v1::SubjectState subject, LoadSubject(txn, tenant, contact.linked_subject_id()));
  return KnownJurisdiction(subject);
}

v1::TargetRef SubjectRef(std::string_view subject_id) {
  v1::TargetRef ref;
  ref.set_subject_id(std::string(subject_id));
  return ref;
}

v1::TargetRef ContactTargetRef(const v1::ContactRef& contact) {
  v1::TargetRef ref;
  *ref.mutable_contact() = contact;
  return ref;
}

// Applies the decisions to a state's decision list, filling in the history record's changes.
void ApplyDecisions(google::protobuf::RepeatedPtrField<v1::ConsentRecord>& current,
                    const std::vector<v1::ConsentRecord>& records, v1::HistoryRecord& history) {
  for (const v1::ConsentRecord& record : records) {
    v1::DecisionChange* change = history.add_decisions();
    *change->mutable_after() = record;
    auto it = std::find_if(current.begin(), current.end(),
                           [&](const v1::ConsentRecord& r) { return SameKey(r, record); });
    if (it == current.end()) {
      *current.Add() = record;
      continue;
    }
    *change->mutable_before() = *it;
    // An imported decision older than the current one is kept in history but does not replace
    // what is in force.
    if (Supersedes(record, *it)) *it = record;
  }
}

// The history's actor and on_behalf_of for a write by `caller` whose request names `actor`.
struct Attribution {
  std::string actor;
  std::string on_behalf_of;
};
Attribution Attribute(const Caller& caller, std::string_view actor) {
  if (caller.principal.empty()) return {std::string(actor), ""};
  return {caller.principal, std::string(actor)};
}

void SetAttribution(v1::HistoryRecord& history, const Attribution& who) {
  history.set_actor(who.actor);
  history.set_on_behalf_of(who.on_behalf_of);
}

absl::Status ValidateCommon(std::string_view actor, std::string_view source,
                            std::string_view idempotency_key) {
  RETURN_IF_ERROR(core::ValidateActor("actor", actor));
  RETURN_IF_ERROR(core::ValidateSource("source", source));
  return core::ValidateIdempotencyKey("idempotency_key", idempotency_key);
}

// One side of a link or unlink: the change in `state`'s history naming the other side.
template <typename State>
void AppendLinkSide(store::Txn& txn, v1::ChangeKind kind, std::string_view tenant,
                    std::string_view source, std::string_view idempotency_key,
                    const Attribution& who, v1::TargetRef target, v1::TargetRef counterpart,
                    State& state) {
  v1::HistoryRecord history;
  history.set_tenant(std::string(tenant));
  history.set_kind(kind);
  SetAttribution(history, who);
  history.set_source(std::string(source));
  history.set_idempotency_key(std::string(idempotency_key));
  *history.mutable_target() = std::move(target);
  *history.mutable_counterpart() = std::move(counterpart);
  AppendChange(txn, history, state);
}

// A link or unlink changes both sides, so it is one change in each target's history.
template <typename Request>
void AppendLinkChange(store::Txn& txn, v1::ChangeKind kind, const Request& request,
                      const Attribution& who, const v1::ContactRef& contact,
                      v1::SubjectState& subject, v1::ContactPointState& contact_state) {
  AppendLinkSide(txn, kind, request.tenant(), request.source(), request.idempotency_key(), who,
                 SubjectRef(request.subject_id()), ContactTargetRef(contact), subject);
  AppendLinkSide(txn, kind, request.tenant(), request.source(), request.idempotency_key(), who,
                 ContactTargetRef(contact), SubjectRef(request.subject_id()), contact_state);
}

void Unlist(v1::SubjectState& subject, const v1::ContactRef& contact) {
  auto* contacts = subject.mutable_contacts();
  contacts->erase(std::remove_if(contacts->begin(), contacts->end(),
                                 [&](const v1::ContactRef& c) {
                                   return c.type() == contact.type() && c.hash() == contact.hash();
                                 }),
                  contacts->end());
}

// Cluster mode: a link change of a subject waits for its pending intent (one at a time, so that
// the subject's side checked when the intent began, the 100 contact points, stays true).
absl::Status RequireNoLinkIntent(store::Txn& txn, std::string_view tenant,
                                 std::string_view subject_id) {
  ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kRights, store::LinkIntentKey(tenant, subject_id)));
  if (!raw.has_value()) return absl::OkStatus();
  return absl::UnavailableError(
      "subject_id: another link change of this subject is in progress; retry");
}

bool Lists(const v1::SubjectState& subject, const v1::ContactRef& contact) {
  return std::any_of(subject.contacts().begin(), subject.contacts().end(),
                     [&](const v1::ContactRef& c) {
                       return c.type() == contact.type() && c.hash() == contact.hash();
                     });
}

// The optimistic-concurrency precondition of a write: the target is still at the sequence the
// caller read (a form rendered from an older state must not overwrite newer choices).
absl::Status CheckExpectedSequence(std::optional<uint64_t> expected, uint64_t current) {
  if (!expected.has_value() || *expected == current) return absl::OkStatus();
  return FailedPrecondition(absl::StrCat("expected_sequence: the target is at sequence ", current,
                                         ", not ", *expected, " (it changed since it was read)"));
}

// Decodes a stored idempotent response and marks it as replayed.
template <typename Response>
absl::StatusOr<Response> Replay(const std::string& bytes) {
  Response response;
  if (!response.ParseFromString(bytes)) return Corrupt("idempotent response");
  response.set_replayed(true);
  return response;
}

}  // namespace

// What a RecordDecisions mutation needs of its request besides the decisions (the mutation runs
// later, on the committer thread, and keeps these rather than a copy of the whole request).
struct RecordedRequest {
  std::string tenant;
  std::string idempotency_key;
  Attribution who;
  std::string source;
  std::string request_reference;
  std::string jurisdiction;
  bool gpc;
  std::optional<uint64_t> expected_sequence;
  // An import row's key in Cf::kImport (store::ImportRowKey); empty for RecordDecisions.
  std::string import_key;
};

namespace {

// The effective time of a request's decisions: now, or an import's original time.
absl::StatusOr<absl::Time> EffectiveTime(const v1::RecordDecisionsRequest& request,
                                         absl::Time now) {
  if (!request.has_import()) return now;
  const v1::ImportInfo& import = request.import();
  if (!import.has_original_effective_time()) {
    return InvalidField("import.original_effective_time", "is required for an import");
  }
  RETURN_IF_ERROR(
      ValidateTimestamp("import.original_effective_time", import.original_effective_time()));
  const absl::Time effective = FromProto(import.original_effective_time());
  if (effective > now + core::kMaxClockSkew) {
    return InvalidField("import.original_effective_time",
                        "is in the future (more than 5 minutes ahead of the server clock)");
  }
  if (import.origin().empty() || import.origin().size() > kMaxOriginLength) {
    return InvalidField("import.origin", "must be 1..128 characters");
  }
  return effective;
}

// The SHA-256 of the notice text a decision was given against, when the caller names one: it must
// be the catalog's text for the decision's purpose, notice version and evidence.language, so a
// stored digest always points at a text the catalog holds.
absl::StatusOr<std::string> NoticeDigest(const v1::Purpose& purpose,
                                         const v1::RecordDecisionsRequest& request,
                                         const v1::DecisionInput& in, const std::string& field,
                                         uint32_t notice_version) {
  const bool own = !in.notice_sha256().empty();
  const std::string& digest = own ? in.notice_sha256() : request.evidence().notice_sha256();
  if (digest.empty()) return std::string();
  const std::string digest_field =
      own ? field + ".notice_sha256" : std::string("evidence.notice_sha256");
  bool hex = digest.size() == 64;
  for (char c : digest) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!hex) return InvalidField(digest_field, "must be 64 lower-case hex characters");
  const std::string& language = request.evidence().language();
  for (const v1::NoticeText& text : purpose.notices()) {
    if (text.notice_version() != notice_version || text.language() != language) continue;
    if (text.sha256() != digest) {
      return InvalidField(digest_field,
                          absl::StrCat("does not match the text of notice version ", notice_version,
                                       " in \"", language, "\" of purpose ", purpose.purpose_id()));
    }
    return digest;
  }
  return InvalidField(digest_field,
                      absl::StrCat("purpose ", purpose.purpose_id(),
                                   " has no notice text for version ", notice_version, " in \"",
                                   language, "\" (evidence.language names the text shown)"));
}

absl::Duration PendingTtl(const v1::Purpose& purpose) {
  return purpose.has_pending_ttl() ? FromProto(purpose.pending_ttl()) : kDefaultPendingTtl;
}

// A live GRANTED of a purpose whose confirmation rules match; imports keep their recorded state.
bool NeedsConfirmation(const v1::Purpose& purpose, const v1::RecordDecisionsRequest& request,
                       const v1::DecisionInput& in) {
  return in.state() == v1::GRANTED && !request.has_import() &&
         core::ConfirmationRequired(purpose, in.channel(), request.jurisdiction());
}

// One decision of the request (`field` is its path) as it will be stored; ids and sequence are
// filled in by the mutation.
absl::StatusOr<v1::ConsentRecord> PrepareDecision(const Catalog& catalog,
                                                  const v1::RecordDecisionsRequest& request,
                                                  const v1::DecisionInput& in,
                                                  const std::string& field, absl::Time effective,
                                                  const std::vector<core::DeadlineRule>& rules) {
  RETURN_IF_ERROR(core::ValidatePurposeId(field + ".purpose_id", in.purpose_id()));
  const v1::Purpose* purpose = catalog.FindPurpose(request.tenant(), in.purpose_id());
  if (purpose == nullptr) {
    return absl::NotFoundError(
        absl::StrCat(field, ".purpose_id: purpose not found: ", in.purpose_id()));
  }
  RETURN_IF_ERROR(
      core::ValidateChannel(field + ".channel", in.channel(), /*allow_unspecified=*/true));
  if (in.channel() != v1::CHANNEL_UNSPECIFIED &&
      std::find(purpose->channels().begin(), purpose->channels().end(), in.channel()) ==
          purpose->channels().end()) {
    return InvalidField(field + ".channel",
                        absl::StrCat("purpose ", purpose->purpose_id(), " does not cover ",
                                     v1::Channel_Name(in.channel())));
  }
  RETURN_IF_ERROR(core::ValidateTopic(field + ".topic", in.topic()));
  if (!in.topic().empty() && purpose->topics_size() > 0 &&
      std::find(purpose->topics().begin(), purpose->topics().end(), in.topic()) ==
          purpose->topics().end()) {
    return InvalidField(field + ".topic",
                        absl::StrCat("is not a topic of purpose ", purpose->purpose_id()));
  }
  if (in.state() == v1::LAPSED) {
    return InvalidField(field + ".state",
                        "LAPSED is set only by Assent, when a grant or a pending decision runs "
                        "out; record WITHDRAWN to end a grant");
  }
  if (!v1::ConsentState_IsValid(in.state()) || in.state() == v1::CONSENT_STATE_UNSPECIFIED) {
    return InvalidField(field + ".state",
                        absl::StrCat("must be GRANTED, DENIED, WITHDRAWN or PENDING (got ",
                                     static_cast<int>(in.state()), ")"));
  }
  uint32_t notice =
      in.notice_version() != 0 ? in.notice_version() : request.evidence().notice_version();
  if (notice == 0) notice = purpose->notice_version();
  if (notice > purpose->notice_version()) {
    return InvalidField(in.notice_version() != 0 ? field + ".notice_version"
                                                 : std::string("evidence.notice_version"),
                        absl::StrCat("is ", notice, " but purpose ", purpose->purpose_id(),
                                     " is at notice version ", purpose->notice_version()));
  }
  ASSIGN_OR_RETURN(std::string notice_sha256, NoticeDigest(*purpose, request, in, field, notice));
  v1::ConsentRecord record;
  record.set_purpose_id(in.purpose_id());
  record.set_purpose_version(purpose->version());
  record.set_channel(in.channel());
  record.set_topic(in.topic());
  record.set_state(in.state());
  *record.mutable_effective_time() = ToProto(effective);
  if (in.has_expire_time()) {
    RETURN_IF_ERROR(ValidateTimestamp(field + ".expire_time", in.expire_time()));
    if (FromProto(in.expire_time()) <= effective) {
      return InvalidField(field + ".expire_time", "must be after the effective time");
    }
    *record.mutable_expire_time() = in.expire_time();
  } else if (in.state() == v1::GRANTED && purpose->has_lifespan()) {
    *record.mutable_expire_time() = ToProto(effective + FromProto(purpose->lifespan()));
  }
  if (NeedsConfirmation(*purpose, request, in)) {
    // Double opt-in: the grant waits for the customer's confirmation (ConfirmDecision), until
    // the pending TTL runs out; its lifespan will run from the confirmation.
    record.set_state(v1::PENDING);
    *record.mutable_expire_time() = ToProto(effective + PendingTtl(*purpose));
  }
  record.set_jurisdiction(request.jurisdiction());
  record.set_source(request.source());
  *record.mutable_evidence() = request.evidence();
  // A caller's confirm_time proves nothing: only ConfirmDecision (or an import of a confirmation
  // made elsewhere) records one.
  if (record.state() == v1::PENDING && !request.has_import()) {
    record.mutable_evidence()->clear_confirm_time();
  }
  record.mutable_evidence()->set_notice_version(notice);
  record.mutable_evidence()->set_notice_sha256(std::move(notice_sha256));
  record.set_actor(request.actor());
  if (request.has_import()) {
    record.set_imported(true);
    record.set_import_origin(request.import().origin());
  }
  // With the request's jurisdiction; the mutation fills in the subject's when the request has
  // none.
  SetHonourBy(rules, *purpose, request.jurisdiction(), record);
  return record;
}

}  // namespace

absl::StatusOr<PreparedDecisions> Ledger::PrepareDecisions(
    const Catalog& catalog, const v1::RecordDecisionsRequest& request, absl::Time now) const {
  RETURN_IF_ERROR(RequireTenant(catalog, "tenant", request.tenant()));
  PreparedDecisions prepared;
  ASSIGN_OR_RETURN(prepared.target, ResolveTarget("target", request.tenant(), request.target()));
  RETURN_IF_ERROR(ValidateCommon(request.actor(), request.source(), request.idempotency_key()));
  RETURN_IF_ERROR(core::ValidateEvidence("evidence", request.evidence()));
  ASSIGN_OR_RETURN(const core::EvidenceSignals signals,
                   core::DecodeEvidenceSignals("evidence", request.evidence()));
  RETURN_IF_ERROR(core::ValidateJurisdiction("jurisdiction", request.jurisdiction()));
  if (request.request_reference().size() > kMaxReferenceLength) {
    return InvalidField("request_reference", "must be at most 256 characters");
  }
  ASSIGN_OR_RETURN(const absl::Time effective, EffectiveTime(request, now));
  if (request.decisions_size() == 0) {
    return InvalidField("decisions", "must contain at least one decision");
  }
  if (request.decisions_size() > options_.max_decisions_per_request) {
    return InvalidField("decisions",
                        absl::StrCat("must contain at most ", options_.max_decisions_per_request,
                                     " decisions (got ", request.decisions_size(), ")"));
  }
  std::set<std::tuple<std::string, int, std::string>> seen;
  for (int i = 0; i < request.decisions_size(); ++i) {
    const v1::DecisionInput& in = request.decisions(i);
    const std::string field = absl::StrCat("decisions[", i, "]");
    ASSIGN_OR_RETURN(v1::ConsentRecord record, PrepareDecision(catalog, request, in, field,
                                                               effective, options_.deadline_rules));
    if (in.state() == v1::GRANTED && record.state() == v1::PENDING) {
      prepared.to_confirm.push_back(prepared.records.size());
    }
    if (!seen.emplace(in.purpose_id(), in.channel(), in.topic()).second) {
      return InvalidField(field,
                          "duplicates an earlier decision for the same purpose, channel "
                          "and topic");
    }
    prepared.records.push_back(std::move(record));
  }
  // The decisions the evidence's TCF / GPP strings imply (core/consent_signals.h), recorded in the
  // same batch with the same evidence and source. A GPP opt-out of sale, sharing or targeted
  // advertising becomes a TARGETED_ADS withdrawal so that the ads sync, which enforces that
  // channel, stops sending the customer to ad platforms.
  if (signals.tcf || signals.gpp) {
    std::vector<const v1::Purpose*> purposes;
    if (const TenantEntry* tenant = catalog.FindTenant(request.tenant()); tenant != nullptr) {
      for (const auto& [id, purpose] : tenant->purposes) purposes.push_back(&purpose);
    }
    for (const core::SignalDecision& derived :
         core::SignalDecisions(signals, purposes, request.decisions())) {
      const std::string field =
          absl::StrCat("evidence.", Sv(derived.from), "[", derived.input.purpose_id(), "]");
      ASSIGN_OR_RETURN(v1::ConsentRecord record,
                       PrepareDecision(catalog, request, derived.input, field, effective,
                                       options_.deadline_rules));
      if (derived.input.state() == v1::GRANTED && record.state() == v1::PENDING) {
        prepared.to_confirm.push_back(prepared.records.size());
      }
      prepared.records.push_back(std::move(record));
    }
  }
  return prepared;
}

void Ledger::RecordDecisions(const v1::RecordDecisionsRequest& request, absl::Time deadline,
                             Callback<v1::RecordDecisionsResponse> done, const Caller& caller) {
  RecordDecisionsKeyed(request, deadline, std::move(done), caller, std::string());
}

void Ledger::RecordDecisionsKeyed(const v1::RecordDecisionsRequest& request, absl::Time deadline,
                                  Callback<v1::RecordDecisionsResponse> done, const Caller& caller,
                                  std::string import_key) {
  // Everything is checked before anything is written.
  auto prepared = PrepareDecisions(*catalog_.Snapshot(), request, clock_.Now());
  if (!prepared.ok()) return done(prepared.status());
  // The plain address lives only in this request's memory: it is sealed into the notice.
  std::optional<v1::ContactPoint> plain;
  if (!prepared->to_confirm.empty()) {
    auto contact_point = PlainContactPoint("target", request.target());
    if (!contact_point.ok()) return done(contact_point.status());
    plain = *std::move(contact_point);
    if (absl::Status keys = RequireConfirmationKeys(plain.has_value()); !keys.ok()) {
      return done(keys);
    }
  }
  Attribution who = Attribute(caller, request.actor());
  for (v1::ConsentRecord& record : prepared->records) {
    record.set_actor(who.actor);
    record.set_on_behalf_of(who.on_behalf_of);
  }
  // Identifying evidence is sealed here, on the caller's thread; the mutation only checks the
  // data key it was sealed under.
  auto sealing = SealEvidence(request.tenant(), prepared->target, request.evidence());
  if (!sealing.ok()) return done(sealing.status());

  SubmitWrite<v1::RecordDecisionsResponse>(
      committer_, deadline, std::move(done),
      [this,
       req = RecordedRequest{request.tenant(), request.idempotency_key(), std::move(who),
                             request.source(), request.request_reference(), request.jurisdiction(),
                             request.evidence().gpc(),
                             request.has_expected_sequence()
                                 ? std::optional<uint64_t>(request.expected_sequence())
                                 : std::nullopt,
                             std::move(import_key)},
       records = std::move(prepared->records), target = std::move(prepared->target),
       to_confirm = std::move(prepared->to_confirm), plain = std::move(plain),
       sealing = *std::move(sealing), digest = IdempotencyDigest(request)](
          store::Txn& txn) mutable -> absl::StatusOr<v1::RecordDecisionsResponse> {
        constexpr std::string_view kMethod = "RecordDecisions";
        ASSIGN_OR_RETURN(auto replay,
                         CheckIdempotency(txn, req.tenant, req.idempotency_key, kMethod, digest));
        if (replay.has_value()) return Replay<v1::RecordDecisionsResponse>(*replay);
        if (!req.import_key.empty()) {
          // A row imported before (however long ago): nothing is written again.
          ASSIGN_OR_RETURN(auto imported, txn.Get(store::Cf::kImport, req.import_key));
          if (imported.has_value()) {
            v1::RecordDecisionsResponse again;
            *again.mutable_target() = target;
            if (imported->size() >= 8) again.set_sequence(store::ReadBigEndian64(*imported));
            again.set_replayed(true);
            return again;
          }
        }
        if (sealing.has_value()) {
          ASSIGN_OR_RETURN(const v1::SealedEvidence sealed, vault_->Commit(txn, *sealing));
          for (v1::ConsentRecord& r : records) {
            EvidenceVault::Apply(sealed, *r.mutable_evidence());
          }
        }

        v1::HistoryRecord history;
        history.set_tenant(req.tenant);
        *history.mutable_target() = target;
        history.set_kind(v1::DECISIONS_RECORDED);
        SetAttribution(history, req.who);
        history.set_source(req.source);
        history.set_idempotency_key(req.idempotency_key);
        history.set_request_reference(req.request_reference);
        *history.mutable_recorded_time() = ToProto(txn.now());
        *history.mutable_effective_time() = records.front().effective_time();

        v1::RecordDecisionsResponse response;
        *response.mutable_target() = target;
        auto stamp = [&](uint64_t sequence) {
          for (size_t i = 0; i < records.size(); ++i) {
            records[i].set_record_id(absl::StrCat(sequence, "-", i));
            records[i].set_sequence(sequence);
            *records[i].mutable_recorded_time() = history.recorded_time();
          }
        };
        // A request without a jurisdiction: the deadlines of the one the subject is known by.
        auto deadlines_in = [&](const std::string& jurisdiction) {
          if (!req.jurisdiction.empty() || jurisdiction.empty()) return;
          auto catalog = catalog_.Snapshot();
          for (v1::ConsentRecord& r : records) {
            const v1::Purpose* purpose = catalog->FindPurpose(req.tenant, r.purpose_id());
            if (purpose != nullptr) SetHonourBy(options_.deadline_rules, *purpose, jurisdiction, r);
          }
        };
        if (target.has_contact()) {
          ASSIGN_OR_RETURN(auto state, LoadContact(txn, req.tenant, target.contact()));
          RETURN_IF_ERROR(CheckExpectedSequence(req.expected_sequence, state.sequence()));
          if (req.jurisdiction.empty()) {
            ASSIGN_OR_RETURN(const std::string linked, LinkedJurisdiction(txn, req.tenant, state));
            deadlines_in(linked);
          }
          stamp(state.sequence() + 1);
          ApplyDecisions(*state.mutable_decisions(), records, history);
          AppendChange(txn, history, state);
          response.set_sequence(state.sequence());
        } else {
          ASSIGN_OR_RETURN(auto state, LoadSubject(txn, req.tenant, target.subject_id()));
          RETURN_IF_ERROR(CheckExpectedSequence(req.expected_sequence, state.sequence()));
          deadlines_in(KnownJurisdiction(state));
          stamp(state.sequence() + 1);
          ApplyDecisions(*state.mutable_decisions(), records, history);
          if (req.gpc && !state.gpc_opt_out()) {
            // A Global Privacy Control signal is an opt-out of sale/sharing and targeted ads
            // (CPRA); it stays in force until the subject explicitly grants those purposes.
            state.set_gpc_opt_out(true);
            state.set_gpc_record_id(records.front().record_id());
          }
          if (!req.jurisdiction.empty()) state.set_last_jurisdiction(req.jurisdiction);
          AppendChange(txn, history, state);
          response.set_sequence(state.sequence());
        }
        IndexDue(txn, catalog_, history);
        for (const auto& r : records) *response.add_records() = r;
        if (!to_confirm.empty()) {
          ConfirmationNotice notice{
              req.tenant, target, response.sequence(), {}, absl::InfinitePast(), plain, ""};
          for (size_t i : to_confirm) {
            notice.records.push_back(records[i]);
            notice.expire_time = std::max(notice.expire_time, FromProto(records[i].expire_time()));
          }
          RETURN_IF_ERROR(StageConfirmationNotice(txn, notice).status());
          response.set_confirmation_required(true);
        }
        RememberIdempotency(txn, req.tenant, req.idempotency_key, kMethod, digest, response,
                            options_.idempotency_ttl);
        if (!req.import_key.empty()) {
          // Put, not PutNew: a later row of the same group with the same key must see it.
          std::string sequence;
          store::PutBigEndian64(&sequence, response.sequence());
          txn.Put(store::Cf::kImport, req.import_key, std::move(sequence));
        }
        if (observer_ != nullptr) {
          std::vector<std::pair<v1::PurposeKind, v1::ConsentState>> recorded;
          auto now_catalog = catalog_.Snapshot();
          for (const auto& r : records) {
            const v1::Purpose* purpose = now_catalog->FindPurpose(req.tenant, r.purpose_id());
            recorded.emplace_back(
                purpose != nullptr ? purpose->kind() : v1::PURPOSE_KIND_UNSPECIFIED, r.state());
          }
          txn.OnCommit([this, recorded = std::move(recorded)] {
            for (const auto& [kind, state] : recorded) observer_->OnDecisionRecorded(kind, state);
          });
        }
        return response;
      });
}

absl::StatusOr<v1::ContactRef> Ledger::ValidateLink(std::string_view tenant,
                                                    std::string_view subject_id,
                                                    const v1::ContactPoint& contact_point,
                                                    std::string_view actor, std::string_view source,
                                                    std::string_view idempotency_key) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", tenant));
  RETURN_IF_ERROR(core::ValidateSubjectId("subject_id", subject_id));
  RETURN_IF_ERROR(ValidateCommon(actor, source, idempotency_key));
  return contact::ToRef("contact_point", TenantContactKey(tenant), contact_point);
}

void Ledger::LinkContactPoint(const v1::LinkContactPointRequest& request, absl::Time deadline,
                              Callback<v1::LinkContactPointResponse> done, const Caller& caller) {
  auto contact = ValidateLink(request.tenant(), request.subject_id(), request.contact_point(),
                              request.actor(), request.source(), request.idempotency_key());
  if (!contact.ok()) return done(contact.status());
  SubmitWrite<v1::LinkContactPointResponse>(
      committer_, deadline, std::move(done),
      [this, request, contact = *contact, digest = IdempotencyDigest(request),
       who = Attribute(caller, request.actor())](
          store::Txn& txn) -> absl::StatusOr<v1::LinkContactPointResponse> {
        constexpr std::string_view kMethod = "LinkContactPoint";
        ASSIGN_OR_RETURN(auto replay, CheckIdempotency(txn, request.tenant(),
                                                       request.idempotency_key(), kMethod, digest));
        if (replay.has_value()) return Replay<v1::LinkContactPointResponse>(*replay);
        RETURN_IF_ERROR(RequireNoLinkIntent(txn, request.tenant(), request.subject_id()));
        ASSIGN_OR_RETURN(auto contact_state, LoadContact(txn, request.tenant(), contact));
        ASSIGN_OR_RETURN(auto subject, LoadSubject(txn, request.tenant(), request.subject_id()));
        v1::LinkContactPointResponse response;
        *response.mutable_contact() = contact;
        if (contact_state.linked_subject_id() == request.subject_id()) {
          // Already linked: nothing changes, but the key is remembered like any success's, so that
          // a retry with it is a replay (found by tests/fuzz/rpc).
          response.set_subject_sequence(subject.sequence());
          response.set_contact_sequence(contact_state.sequence());
          RememberIdempotency(txn, request.tenant(), request.idempotency_key(), kMethod, digest,
                              response, options_.idempotency_ttl);
          return response;
        }
        if (!contact_state.linked_subject_id().empty()) {
          return FailedPrecondition(
              "contact_point: is linked to another subject; unlink it from that subject first");
        }
        if (subject.contacts_size() >= kMaxContactsPerSubject) {
          return FailedPrecondition("subject_id: already has 100 contact points linked");
        }
        contact_state.set_linked_subject_id(request.subject_id());
        *subject.add_contacts() = contact;
        AppendLinkChange(txn, v1::CONTACT_LINKED, request, who, contact, subject, contact_state);
        response.set_subject_sequence(subject.sequence());
        response.set_contact_sequence(contact_state.sequence());
        RememberIdempotency(txn, request.tenant(), request.idempotency_key(), kMethod, digest,
                            response, options_.idempotency_ttl);
        return response;
      });
}

void Ledger::UnlinkContactPoint(const v1::UnlinkContactPointRequest& request, absl::Time deadline,
                                Callback<v1::UnlinkContactPointResponse> done,
                                const Caller& caller) {
  auto contact = ValidateLink(request.tenant(), request.subject_id(), request.contact_point(),
                              request.actor(), request.source(), request.idempotency_key());
  if (!contact.ok()) return done(contact.status());
  SubmitWrite<v1::UnlinkContactPointResponse>(
      committer_, deadline, std::move(done),
      [this, request, contact = *contact, digest = IdempotencyDigest(request),
       who = Attribute(caller, request.actor())](
          store::Txn& txn) -> absl::StatusOr<v1::UnlinkContactPointResponse> {
        constexpr std::string_view kMethod = "UnlinkContactPoint";
        ASSIGN_OR_RETURN(auto replay, CheckIdempotency(txn, request.tenant(),
                                                       request.idempotency_key(), kMethod, digest));
        if (replay.has_value()) return Replay<v1::UnlinkContactPointResponse>(*replay);
        RETURN_IF_ERROR(RequireNoLinkIntent(txn, request.tenant(), request.subject_id()));
        ASSIGN_OR_RETURN(auto contact_state, LoadContact(txn, request.tenant(), contact));
        if (contact_state.linked_subject_id() != request.subject_id()) {
          return FailedPrecondition("contact_point: is not linked to this subject");
        }
        ASSIGN_OR_RETURN(auto subject, LoadSubject(txn, request.tenant(), request.subject_id()));
        contact_state.clear_linked_subject_id();
        Unlist(subject, contact);
        AppendLinkChange(txn, v1::CONTACT_UNLINKED, request, who, contact, subject, contact_state);
        v1::UnlinkContactPointResponse response;
        response.set_subject_sequence(subject.sequence());
        response.set_contact_sequence(contact_state.sequence());
        RememberIdempotency(txn, request.tenant(), request.idempotency_key(), kMethod, digest,
                            response, options_.idempotency_ttl);
        return response;
      });
}

// Links over two owners' partitions (cluster mode): the three steps ledger.h describes.

namespace {

constexpr std::string_view kLinkMethod = "LinkContactPoint";
constexpr std::string_view kUnlinkMethod = "UnlinkContactPoint";

template <typename Request>
v1::ApplyContactLinkRequest LinkHalf(const Request& request, const v1::ContactRef& contact,
                                     const Attribution& who, bool unlink) {
  v1::ApplyContactLinkRequest half;
  half.set_tenant(request.tenant());
  half.set_subject_id(request.subject_id());
  *half.mutable_contact() = contact;
  half.set_unlink(unlink);
  half.set_actor(who.actor);
  half.set_on_behalf_of(who.on_behalf_of);
  half.set_source(request.source());
  half.set_idempotency_key(request.idempotency_key());
  return half;
}

// The stored response of a finished link or unlink, marked replayed, serialized again.
absl::StatusOr<std::string> ReplayLinkResponse(bool unlink, const std::string& stored) {
  if (unlink) {
    ASSIGN_OR_RETURN(auto response, Replay<v1::UnlinkContactPointResponse>(stored));
    return response.SerializeAsString();
  }
  ASSIGN_OR_RETURN(auto response, Replay<v1::LinkContactPointResponse>(stored));
  return response.SerializeAsString();
}

}  // namespace

absl::StatusOr<uint64_t> NextLinkIntentNumber(store::Txn& txn, std::string_view tenant,
                                              std::string_view subject) {
  const std::string key = store::LinkIntentCounterKey(tenant, subject);
  ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kRights, key));
  // The intent's start in microseconds since the epoch, or one more than the last number when
  // that is later (a clock behind another owner's): numbers keep rising after retention dropped
  // the counter and the half records (store ErasureStubRetentionFilter).
  const uint64_t last = raw.has_value() && raw->size() == 8 ? store::ReadBigEndian64(*raw) : 0;
  const uint64_t next = std::max(
      last + 1, static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixMicros(txn.now()))));
  std::string value;
  store::PutBigEndian64(&value, next);
  txn.Put(store::Cf::kRights, key, std::move(value));
  return next;
}

absl::StatusOr<std::optional<storage::v1::LinkIntent>> LoadLinkIntent(store::Txn& txn,
                                                                      std::string_view tenant,
                                                                      std::string_view subject) {
  ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kRights, store::LinkIntentKey(tenant, subject)));
  if (!raw.has_value()) return std::nullopt;
  storage::v1::LinkIntent intent;
  if (!intent.ParseFromString(*raw)) return Corrupt("link intent");
  return intent;
}

void Ledger::BeginLinkIntent(const v1::LinkContactPointRequest& request, absl::Time deadline,
                             Callback<LinkIntentStart> done, const Caller& caller) {
  auto contact = ValidateLink(request.tenant(), request.subject_id(), request.contact_point(),
                              request.actor(), request.source(), request.idempotency_key());
  if (!contact.ok()) return done(contact.status());
  BeginLinkChange(LinkHalf(request, *contact, Attribute(caller, request.actor()), false),
                  RequestDigest(request), caller.principal, deadline, std::move(done));
}

void Ledger::BeginUnlinkIntent(const v1::UnlinkContactPointRequest& request, absl::Time deadline,
                               Callback<LinkIntentStart> done, const Caller& caller) {
  auto contact = ValidateLink(request.tenant(), request.subject_id(), request.contact_point(),
                              request.actor(), request.source(), request.idempotency_key());
  if (!contact.ok()) return done(contact.status());
  BeginLinkChange(LinkHalf(request, *contact, Attribute(caller, request.actor()), true),
                  RequestDigest(request), caller.principal, deadline, std::move(done));
}

void Ledger::BeginLinkChange(v1::ApplyContactLinkRequest half, std::string digest,
                             std::string principal, absl::Time deadline,
                             Callback<LinkIntentStart> done) {
  SubmitWrite<LinkIntentStart>(
      committer_, deadline, std::move(done),
      [half = std::move(half), digest = std::move(digest),
       principal = std::move(principal)](store::Txn& txn) -> absl::StatusOr<LinkIntentStart> {
        const bool unlink = half.unlink();
        const std::string& tenant = half.tenant();
        LinkIntentStart start;
        ASSIGN_OR_RETURN(auto replay,
                         CheckIdempotency(txn, tenant, half.idempotency_key(),
                                          unlink ? kUnlinkMethod : kLinkMethod, digest));
        if (replay.has_value()) {
          ASSIGN_OR_RETURN(start.replayed, ReplayLinkResponse(unlink, *replay));
          return start;
        }
        ASSIGN_OR_RETURN(auto pending, LoadLinkIntent(txn, tenant, half.subject_id()));
        if (pending.has_value()) {
          // The same request again from the same caller (a retry after a timeout, or a call
          // forwarded anew after the subject's partition moved mid-way) resumes its intent.
          const v1::ApplyContactLinkRequest& p = pending->half();
          if (pending->request_digest() == digest && pending->principal() == principal &&
              p.unlink() == unlink && !p.erase()) {
            start.intent = *std::move(pending);
            return start;
          }
          return absl::UnavailableError(
              "subject_id: another link change of this subject is in progress; retry");
        }
        ASSIGN_OR_RETURN(auto subject, LoadSubject(txn, tenant, half.subject_id()));
        const bool listed = Lists(subject, half.contact());
        if (unlink && !listed) {
          return FailedPrecondition("contact_point: is not linked to this subject");
        }
        if (!unlink && !listed && subject.contacts_size() >= kMaxContactsPerSubject) {
          return FailedPrecondition("subject_id: already has 100 contact points linked");
        }
        storage::v1::LinkIntent& intent = start.intent;
        *intent.mutable_half() = half;
        intent.mutable_half()->set_intent_id(absl::BytesToHexString(RandomBytes(12)));
        ASSIGN_OR_RETURN(const uint64_t number,
                         NextLinkIntentNumber(txn, tenant, half.subject_id()));
        intent.mutable_half()->set_intent_number(number);
        intent.set_request_digest(digest);
        intent.set_principal(principal);
        *intent.mutable_create_time() = ToProto(txn.now());
        txn.Put(store::Cf::kRights, store::LinkIntentKey(tenant, half.subject_id()),
                intent.SerializeAsString());
        return start;
      });
}

void Ledger::ApplyContactLink(const v1::ApplyContactLinkRequest& request, absl::Time deadline,
                              Callback<v1::ApplyContactLinkResponse> done) {
  absl::Status valid = RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant());
  if (valid.ok()) valid = core::ValidateSubjectId("subject_id", request.subject_id());
  // The attribution is the entry instance's: the caller's principal (checked as an identity, not
  // by the actor rules) and the request's actor, both validated there.
  if (valid.ok()) valid = core::ValidateSource("source", request.source());
  if (valid.ok()) {
    valid = core::ValidateIdempotencyKey("idempotency_key", request.idempotency_key());
  }
  if (valid.ok() && (request.contact().type() == v1::CONTACT_TYPE_UNSPECIFIED ||
                     request.contact().hash().empty())) {
    valid = InvalidField("contact", "a contact point reference (type and hash) is required");
  }
  if (valid.ok() && request.intent_id().empty()) {
    valid = InvalidField("intent_id", "is required");
  }
  if (valid.ok() && request.intent_number() == 0) {
    valid = InvalidField("intent_number", "is required");
  }
  if (valid.ok() && request.erase() && !request.unlink()) {
    valid = InvalidField("erase", "an erasure's half also unlinks (set unlink)");
  }
  if (!valid.ok()) return done(valid);
  // A refusal is recorded too, so that a retry is refused again.
  using Outcome = Refusable<v1::ApplyContactLinkResponse>;
  SubmitRefusableWrite<v1::ApplyContactLinkResponse>(
      committer_, deadline, std::move(done),
      [this, request](store::Txn& txn) -> absl::StatusOr<Outcome> {
        const std::string record_key = store::LinkHalfKey(
            request.tenant(), store::ContactEntity(request.contact()), request.subject_id());
        ASSIGN_OR_RETURN(auto raw_record, txn.Get(store::Cf::kRights, record_key));
        Outcome outcome;
        if (raw_record.has_value()) {
          storage::v1::LinkHalfRecord last;
          if (!last.ParseFromString(*raw_record)) return Corrupt("link half record");
          if (last.intent_id() == request.intent_id()) {
            // The same intent's half again: what it was answered the first time.
            outcome.value.set_contact_sequence(last.contact_sequence());
            if (last.refused_code() != 0) {
              outcome.refused = absl::Status(static_cast<absl::StatusCode>(last.refused_code()),
                                             last.refused_message());
            }
            return outcome;
          }
          if (last.intent_number() > request.intent_number()) {
            // A late copy of an intent that was finished before a later one of the subject.
            return FailedPrecondition(
                "intent_number: a later link change of this subject was applied; this one is "
                "finished");
          }
        }
        ASSIGN_OR_RETURN(auto contact_state, LoadContact(txn, request.tenant(), request.contact()));
        const bool linked_here = contact_state.linked_subject_id() == request.subject_id();
        uint64_t sequence = contact_state.sequence();
        if (request.erase()) {
          // Nothing to do when the contact point no longer names the subject (the subject's
          // pending intent keeps its other link changes away until it is finished).
          if (linked_here) {
            ErasureOrder order{request.tenant(),
                               request.subject_id(),
                               request.actor(),
                               request.on_behalf_of(),
                               "",
                               false,
                               {}};
            ASSIGN_OR_RETURN(sequence, EraseContactInTxn(txn, order, request.contact()));
          }
        } else if (!request.unlink() && !linked_here &&
                   !contact_state.linked_subject_id().empty()) {
          outcome.refused = FailedPrecondition(
              "contact_point: is linked to another subject; unlink it from that subject first");
        } else if (request.unlink() == linked_here) {
          // A link of a free contact point, or an unlink of one naming the subject (otherwise
          // there is nothing to do).
          if (request.unlink()) {
            contact_state.clear_linked_subject_id();
          } else {
            contact_state.set_linked_subject_id(request.subject_id());
          }
          AppendLinkSide(txn, request.unlink() ? v1::CONTACT_UNLINKED : v1::CONTACT_LINKED,
                         request.tenant(), request.source(), request.idempotency_key(),
                         Attribution{request.actor(), request.on_behalf_of()},
                         ContactTargetRef(request.contact()), SubjectRef(request.subject_id()),
                         contact_state);
          sequence = contact_state.sequence();
        }
        storage::v1::LinkHalfRecord record;
        record.set_intent_number(request.intent_number());
        record.set_intent_id(request.intent_id());
        record.set_contact_sequence(sequence);
        if (!outcome.refused.ok()) {
          record.set_refused_code(static_cast<int32_t>(outcome.refused.code()));
          record.set_refused_message(std::string(outcome.refused.message()));
        }
        txn.Put(store::Cf::kRights, record_key, record.SerializeAsString());
        outcome.value.set_contact_sequence(sequence);
        return outcome;
      });
}

void Ledger::CompleteLinkIntent(const storage::v1::LinkIntent& intent,
                                absl::StatusOr<uint64_t> contact_sequence, absl::Time deadline,
                                Callback<std::string> done) {
  // A refused half still deletes the intent.
  using Outcome = Refusable<std::string>;
  SubmitRefusableWrite<std::string>(
      committer_, deadline, std::move(done),
      [this, intent,
       contact_sequence = std::move(contact_sequence)](store::Txn& txn) -> absl::StatusOr<Outcome> {
        const v1::ApplyContactLinkRequest& half = intent.half();
        const bool unlink = half.unlink();
        const std::string_view method = unlink ? kUnlinkMethod : kLinkMethod;
        ASSIGN_OR_RETURN(auto pending, LoadLinkIntent(txn, half.tenant(), half.subject_id()));
        if (!pending.has_value() || pending->half().intent_id() != half.intent_id()) {
          // Another attempt (a recovery, or the request retried) finished it first.
          ASSIGN_OR_RETURN(auto replay, CheckIdempotency(txn, half.tenant(), half.idempotency_key(),
                                                         method, intent.request_digest()));
          if (!replay.has_value()) {
            return absl::UnavailableError(
                "the link change was finished by another attempt; retry to read its outcome");
          }
          ASSIGN_OR_RETURN(std::string replayed, ReplayLinkResponse(unlink, *replay));
          return Outcome{absl::OkStatus(), std::move(replayed)};
        }
        txn.Delete(store::Cf::kRights, store::LinkIntentKey(half.tenant(), half.subject_id()));
        if (!contact_sequence.ok()) return Outcome{contact_sequence.status(), ""};
        ASSIGN_OR_RETURN(auto subject, LoadSubject(txn, half.tenant(), half.subject_id()));
        const bool listed = Lists(subject, half.contact());
        if (unlink ? listed : !listed) {
          if (unlink) {
            Unlist(subject, half.contact());
          } else {
            *subject.add_contacts() = half.contact();
          }
          AppendLinkSide(txn, unlink ? v1::CONTACT_UNLINKED : v1::CONTACT_LINKED, half.tenant(),
                         half.source(), half.idempotency_key(),
                         Attribution{half.actor(), half.on_behalf_of()},
                         SubjectRef(half.subject_id()), ContactTargetRef(half.contact()), subject);
        }
        auto finish = [&](auto response) -> Outcome {
          response.set_subject_sequence(subject.sequence());
          response.set_contact_sequence(*contact_sequence);
          RememberIdempotency(txn, half.tenant(), half.idempotency_key(), method,
                              intent.request_digest(), response, options_.idempotency_ttl);
          return Outcome{absl::OkStatus(), response.SerializeAsString()};
        };
        if (unlink) return finish(v1::UnlinkContactPointResponse());
        v1::LinkContactPointResponse response;
        *response.mutable_contact() = half.contact();
        return finish(std::move(response));
      });
}

absl::StatusOr<std::vector<storage::v1::LinkIntent>> Ledger::PendingLinkIntents(
    const KeyFilter& handled_here) const {
  std::vector<storage::v1::LinkIntent> out;
  const std::string prefix = store::LinkIntentPrefix();
  auto it = store_.NewIterator(store::Cf::kRights);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (handled_here != nullptr && !handled_here(it->key().ToStringView())) continue;
    storage::v1::LinkIntent intent;
    if (!intent.ParseFromArray(it->value().data(), static_cast<int>(it->value().size())) ||
        it->key().ToStringView() !=
            store::LinkIntentKey(intent.half().tenant(), intent.half().subject_id())) {
      // Under a key it does not name, no subject half could ever delete it: never driven.
      return Corrupt("link intent");
    }
    out.push_back(std::move(intent));
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  return out;
}

void Ledger::SetPreferences(const v1::SetPreferencesRequest& request, absl::Time deadline,
                            Callback<v1::SetPreferencesResponse> done, const Caller& caller) {
  absl::Status valid = RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant());
  if (valid.ok()) valid = core::ValidateSubjectId("subject_id", request.subject_id());
  if (valid.ok())
    valid = ValidateCommon(request.actor(), request.source(), request.idempotency_key());
  if (valid.ok()) valid = core::ValidatePreferences("preferences", request.preferences());
  if (!valid.ok()) return done(valid);
  SubmitWrite<v1::SetPreferencesResponse>(
      committer_, deadline, std::move(done),
      [this, request, digest = IdempotencyDigest(request),
       who = Attribute(caller, request.actor())](
          store::Txn& txn) -> absl::StatusOr<v1::SetPreferencesResponse> {
        constexpr std::string_view kMethod = "SetPreferences";
        ASSIGN_OR_RETURN(auto replay, CheckIdempotency(txn, request.tenant(),
                                                       request.idempotency_key(), kMethod, digest));
        if (replay.has_value()) return Replay<v1::SetPreferencesResponse>(*replay);
        ASSIGN_OR_RETURN(auto subject, LoadSubject(txn, request.tenant(), request.subject_id()));
        if (request.has_expected_sequence()) {
          RETURN_IF_ERROR(CheckExpectedSequence(request.expected_sequence(), subject.sequence()));
        }
        v1::HistoryRecord history;
        history.set_tenant(request.tenant());
        *history.mutable_target() = SubjectRef(request.subject_id());
        history.set_kind(v1::PREFERENCES_SET);
        SetAttribution(history, who);
        history.set_source(request.source());
        history.set_idempotency_key(request.idempotency_key());
        *history.mutable_preferences_before() = subject.preferences();
        *history.mutable_preferences_after() = request.preferences();
        *subject.mutable_preferences() = request.preferences();
        AppendChange(txn, history, subject);
        v1::SetPreferencesResponse response;
        response.set_sequence(subject.sequence());
        *response.mutable_preferences() = subject.preferences();
        RememberIdempotency(txn, request.tenant(), request.idempotency_key(), kMethod, digest,
                            response, options_.idempotency_ttl);
        return response;
      });
}

void Ledger::SuppressContactPoint(const v1::SuppressContactPointRequest& request,
                                  absl::Time deadline,
                                  Callback<v1::SuppressContactPointResponse> done,
                                  const Caller& caller) {
  absl::Status valid = RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant());
  if (valid.ok()) valid = core::ValidateChannel("channel", request.channel(), true);
  if (valid.ok() && (!v1::Suppression::Kind_IsValid(request.kind()) ||
                     request.kind() == v1::Suppression::KIND_UNSPECIFIED)) {
    valid = InvalidField("kind", "must be UNSUBSCRIBED, COMPLAINT, HARD_BOUNCE or INVALID");
  }
  if (valid.ok())
    valid = ValidateCommon(request.actor(), request.source(), request.idempotency_key());
  if (!valid.ok()) return done(valid);
  auto contact =
      contact::ToRef("contact_point", TenantContactKey(request.tenant()), request.contact_point());
  if (!contact.ok()) return done(contact.status());
  SubmitWrite<v1::SuppressContactPointResponse>(
      committer_, deadline, std::move(done),
      [this, request, contact = *contact, digest = IdempotencyDigest(request),
       who = Attribute(caller, request.actor())](
          store::Txn& txn) -> absl::StatusOr<v1::SuppressContactPointResponse> {
        constexpr std::string_view kMethod = "SuppressContactPoint";
        ASSIGN_OR_RETURN(auto replay, CheckIdempotency(txn, request.tenant(),
                                                       request.idempotency_key(), kMethod, digest));
        if (replay.has_value()) return Replay<v1::SuppressContactPointResponse>(*replay);
        ASSIGN_OR_RETURN(auto state, LoadContact(txn, request.tenant(), contact));
        auto* suppressions = state.mutable_suppressions();
        auto same = [&](const v1::Suppression& s) {
          return s.channel() == request.channel() && s.kind() == request.kind();
        };
        auto existing = std::find_if(suppressions->begin(), suppressions->end(), same);
        v1::HistoryRecord history;
        history.set_tenant(request.tenant());
        *history.mutable_target() = ContactTargetRef(contact);
        SetAttribution(history, who);
        history.set_source(request.source());
        history.set_idempotency_key(request.idempotency_key());
        if (request.lift()) {
          if (existing == suppressions->end()) {
            return FailedPrecondition(
                "kind: no such suppression on this contact point and channel");
          }
          history.set_kind(v1::SUPPRESSION_LIFTED);
          *history.mutable_suppression() = *existing;
          suppressions->erase(existing);
        } else {
          v1::Suppression s;
          s.set_channel(request.channel());
          s.set_kind(request.kind());
          *s.mutable_effective_time() = ToProto(txn.now());
          s.set_source(request.source());
          s.set_sequence(state.sequence() + 1);
          s.set_record_id(absl::StrCat(s.sequence(), "-0"));
          // A suppression is for a channel (every channel when unspecified), not for a purpose;
          // its jurisdiction is the linked subject's, if any.
          ASSIGN_OR_RETURN(const std::string jurisdiction,
                           LinkedJurisdiction(txn, request.tenant(), state));
          const v1::Channel channels[] = {request.channel()};
          const std::optional<core::Deadline> due =
              core::HonourBy(options_.deadline_rules, {.action = core::DeadlineAction::kSuppression,
                                                       .channels = channels,
                                                       .jurisdiction = jurisdiction,
                                                       .time = txn.now()});
          if (due.has_value()) *s.mutable_honour_by() = ToProto(due->honour_by);
          if (existing != suppressions->end()) {
            *existing = s;
          } else {
            *suppressions->Add() = s;
          }
          history.set_kind(v1::SUPPRESSION_ADDED);
          *history.mutable_suppression() = s;
        }
        AppendChange(txn, history, state);
        v1::SuppressContactPointResponse response;
        *response.mutable_contact() = contact;
        response.set_sequence(state.sequence());
        RememberIdempotency(txn, request.tenant(), request.idempotency_key(), kMethod, digest,
                            response, options_.idempotency_ttl);
        return response;
      });
}

}  // namespace assent::ledger
