// Double opt-in: the ConfirmationRequested notice (with its sealed address and link), the
// customer's confirmation (ConfirmDecision) and a rate-limited resend (ResendConfirmation).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "assent/v1/lifecycle.pb.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/time_util.h"
#include "contact/normalize.h"
#include "core/validate.h"
#include "ledger/change.h"
#include "ledger/due.h"
#include "ledger/events.h"
#include "ledger/evidence.h"
#include "ledger/ledger.h"
#include "links/sealed.h"
#include "links/token.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr std::string_view kDefaultConfirmSource = "confirmation-link";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// The rate-limit record of a target sequence's resends in Cf::kLifecycle:
// "confirm-resend" \0 tenant \0 entity \0 big-endian sequence -> big-endian 32-bit count and
// 64-bit unix microseconds of the last notice.
std::string ResendKey(std::string_view tenant, const v1::TargetRef& target, uint64_t sequence) {
  std::string key("confirm-resend");
  key.push_back('\0');
  key.append(tenant);
  key.push_back('\0');
  key.append(store::EntityName(target));
  key.push_back('\0');
  store::PutBigEndian64(&key, sequence);
  return key;
}

// The decisions recorded at `sequence` as the target holds them now.
std::vector<v1::ConsentRecord> RecordsOf(
    const google::protobuf::RepeatedPtrField<v1::ConsentRecord>& decisions, uint64_t sequence) {
  std::vector<v1::ConsentRecord> out;
  for (const v1::ConsentRecord& r : decisions) {
    if (r.sequence() == sequence) out.push_back(r);
  }
  return out;
}

bool IsLivePending(const v1::ConsentRecord& r, absl::Time now) {
  return r.state() == v1::PENDING && (!r.has_expire_time() || now < FromProto(r.expire_time()));
}

bool IsConfirmed(const v1::ConsentRecord& r) {
  return r.state() == v1::GRANTED && r.evidence().has_confirm_time() && !r.imported();
}

// Why decisions recorded at `sequence` cannot be confirmed (or resent) any more.
absl::Status NotPending(const std::vector<v1::ConsentRecord>& at_sequence, uint64_t sequence,
                        absl::Time now) {
  for (const v1::ConsentRecord& r : at_sequence) {
    if (r.state() == v1::LAPSED || (r.state() == v1::PENDING && !IsLivePending(r, now))) {
      return FailedPrecondition(absl::StrCat(
          "token: the confirmation window closed at ", Rfc3339(FromProto(r.expire_time())),
          " and the pending decisions lapsed; the grant must be given again"));
    }
  }
  return FailedPrecondition(absl::StrCat("token: the decisions of sequence ", sequence,
                                         " are no longer pending (withdrawn, refused or "
                                         "superseded by a later decision)"));
}

// Confirms the live PENDING decisions of `sequence` in `decisions`, filling the history's
// changes; returns the confirmed records.
std::vector<v1::ConsentRecord> Confirm(
    google::protobuf::RepeatedPtrField<v1::ConsentRecord>& decisions, uint64_t sequence,
    const Catalog& catalog, std::string_view tenant, const v1::Evidence& evidence,
    const std::optional<v1::SealedEvidence>& sealed, absl::Time now, v1::HistoryRecord& history) {
  std::vector<v1::ConsentRecord> confirmed;
  for (v1::ConsentRecord& r : decisions) {
    if (r.sequence() != sequence || !IsLivePending(r, now)) continue;
    v1::DecisionChange* change = history.add_decisions();
    *change->mutable_before() = r;
    r.set_state(v1::GRANTED);
    *r.mutable_effective_time() = ToProto(now);
    v1::Evidence* ev = r.mutable_evidence();
    *ev->mutable_confirm_time() = ToProto(now);
    // The click's own address and agent replace the grant's (the grant's stay in the history's
    // `before`).
    ev->set_ip_address(evidence.ip_address());
    ev->set_user_agent(evidence.user_agent());
    ev->clear_reference();
    ev->clear_sealed();
    if (sealed.has_value()) EvidenceVault::Apply(*sealed, *ev);
    if (!evidence.language().empty()) ev->set_language(evidence.language());
    // The lifespan runs from the confirmation.
    const v1::Purpose* purpose = catalog.FindPurpose(tenant, r.purpose_id());
    if (purpose != nullptr && purpose->has_lifespan()) {
      *r.mutable_expire_time() = ToProto(now + FromProto(purpose->lifespan()));
    } else {
      r.clear_expire_time();
    }
    *change->mutable_after() = r;
    confirmed.push_back(r);
  }
  return confirmed;
}

// The evidence a confirmation may carry: what the click showed, nothing a caller could claim.
absl::Status ValidateConfirmEvidence(const v1::Evidence& evidence) {
  v1::Evidence rest = evidence;
  rest.clear_ip_address();
  rest.clear_user_agent();
  rest.clear_language();
  if (rest.ByteSizeLong() != 0) {
    return InvalidField("evidence",
                        "only ip_address, user_agent and language may be given (confirm_time is "
                        "set by Assent)");
  }
  return core::ValidateEvidence("evidence", evidence);
}

}  // namespace

absl::Status Ledger::RequireConfirmationKeys(bool contact_point) const {
  if (!contact_point) return absl::OkStatus();
  if (options_.link_keyring == nullptr) {
    return FailedPrecondition(
        "links: consentd has no link keyring (links.keyring_file) to mint the confirmation link "
        "a double opt-in purpose needs");
  }
  if (options_.confirmation_keyring == nullptr) {
    return FailedPrecondition(
        "confirmation: consentd has no confirmation keyring (confirmation.keyring_file) to seal "
        "the address a double opt-in purpose needs to be confirmed");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<v1::ContactPoint>> Ledger::PlainContactPoint(
    std::string_view field, const v1::Target& target) const {
  if (!target.has_contact_point()) return std::nullopt;
  v1::ContactPoint point;
  point.set_type(target.contact_point().type());
  ASSIGN_OR_RETURN(
      *point.mutable_value(),
      contact::Normalize(absl::StrCat(Sv(field), ".contact_point"), target.contact_point()));
  return point;
}

absl::StatusOr<std::string> Ledger::StageConfirmationNotice(store::Txn& txn,
                                                            const ConfirmationNotice& in) const {
  v1::ConfirmationRequested notice;
  notice.set_event_id(absl::StrCat(EventKey(in.tenant, in.target), "/", in.sequence,
                                   "/confirmation", in.event_suffix));
  notice.set_tenant(in.tenant);
  *notice.mutable_target() = in.target;
  notice.set_sequence(in.sequence);
  for (const v1::ConsentRecord& r : in.records) *notice.add_records() = r;
  *notice.mutable_expire_time() = ToProto(in.expire_time);
  *notice.mutable_notice_time() = ToProto(txn.now());
  if (in.contact_point.has_value()) {
    RETURN_IF_ERROR(RequireConfirmationKeys(true));
    links::LinkClaims claims;
    claims.tenant = in.tenant;
    claims.kind = v1::CONFIRMATION;
    claims.target = in.target;
    claims.confirm_sequence = in.sequence;
    claims.expire_time = absl::FromUnixSeconds(absl::ToUnixSeconds(in.expire_time));
    v1::ConfirmationSecret secret;
    *secret.mutable_contact_point() = *in.contact_point;
    ASSIGN_OR_RETURN(*secret.mutable_token(), links::MintLink(*options_.link_keyring, claims));
    if (!options_.link_base_url.empty()) {
      secret.set_url(links::LinkUrl(options_.link_base_url, v1::CONFIRMATION, secret.token()));
    }
    ASSIGN_OR_RETURN(
        *notice.mutable_sealed(),
        links::Seal(*options_.confirmation_keyring, secret.SerializeAsString(), notice.event_id()));
  }
  txn.PutNew(store::Cf::kOutbox, store::OutboxKey(txn.NextOutboxId()),
             BuildNoticeRecord(in.tenant, in.target, notice, txn.now()).SerializeAsString());
  return notice.event_id();
}

absl::StatusOr<absl::Time> Ledger::PendingWindowEnd(std::string_view tenant,
                                                    const v1::TargetRef& target,
                                                    uint64_t sequence) const {
  const bool contact = target.has_contact();
  ASSIGN_OR_RETURN(auto raw, store_.Get(contact ? store::Cf::kContacts : store::Cf::kSubjects,
                                        contact ? store::ContactKey(tenant, target.contact())
                                                : store::SubjectKey(tenant, target.subject_id())));
  google::protobuf::RepeatedPtrField<v1::ConsentRecord> decisions;
  if (raw.has_value()) {
    if (contact) {
      v1::ContactPointState state;
      if (!state.ParseFromString(*raw)) return Corrupt("contact point state");
      decisions = state.decisions();
    } else {
      v1::SubjectState state;
      if (!state.ParseFromString(*raw)) return Corrupt("subject state");
      decisions = state.decisions();
    }
  }
  absl::Time end = absl::InfinitePast();
  for (const v1::ConsentRecord& r : RecordsOf(decisions, sequence)) {
    if (IsLivePending(r, clock_.Now()) && r.has_expire_time()) {
      end = std::max(end, FromProto(r.expire_time()));
    }
  }
  if (end == absl::InfinitePast()) {
    return FailedPrecondition(
        absl::StrCat("confirm_sequence: the target has no pending decisions "
                     "of sequence ",
                     sequence));
  }
  return end;
}

void Ledger::ConfirmDecision(const v1::ConfirmDecisionRequest& request, absl::Time deadline,
                             Callback<v1::ConfirmDecisionResponse> done, const Caller& caller) {
  auto claims = [&]() -> absl::StatusOr<links::LinkClaims> {
    RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
    RETURN_IF_ERROR(core::ValidateActor("actor", request.actor()));
    if (!request.source().empty()) {
      RETURN_IF_ERROR(core::ValidateSource("source", request.source()));
    }
    RETURN_IF_ERROR(ValidateConfirmEvidence(request.evidence()));
    if (request.token().empty()) return InvalidField("token", "is required");
    if (options_.link_keyring == nullptr) {
      return FailedPrecondition(
          "links: consentd has no link keyring (links.keyring_file) to verify confirmation links");
    }
    ASSIGN_OR_RETURN(links::LinkClaims c,
                     links::VerifyLink(*options_.link_keyring, "", request.token(), clock_.Now()));
    if (c.kind != v1::CONFIRMATION) return InvalidField("token", "is not a confirmation link");
    if (c.tenant != request.tenant()) {
      return absl::PermissionDeniedError(
          absl::StrCat("token: was not issued for tenant ", request.tenant()));
    }
    return c;
  }();
  if (!claims.ok()) return done(claims.status());
  auto sealing = SealEvidence(request.tenant(), claims->target, request.evidence());
  if (!sealing.ok()) return done(sealing.status());
  struct Who {
    std::string actor;
    std::string on_behalf_of;
  };
  Who who =
      caller.principal.empty() ? Who{request.actor(), ""} : Who{caller.principal, request.actor()};
  SubmitWrite<v1::ConfirmDecisionResponse>(
      committer_, deadline, std::move(done),
      [this, tenant = request.tenant(), evidence = request.evidence(), who = std::move(who),
       source = request.source().empty() ? std::string(kDefaultConfirmSource) : request.source(),
       claims = *std::move(claims), sealing = *std::move(sealing)](
          store::Txn& txn) mutable -> absl::StatusOr<v1::ConfirmDecisionResponse> {
        const uint64_t sequence = claims.confirm_sequence;
        std::optional<v1::SealedEvidence> sealed;
        if (sealing.has_value()) {
          ASSIGN_OR_RETURN(sealed, vault_->Commit(txn, *sealing));
        }
        v1::ConfirmDecisionResponse response;
        response.set_tenant(tenant);
        *response.mutable_target() = claims.target;
        v1::HistoryRecord history;
        history.set_tenant(tenant);
        *history.mutable_target() = claims.target;
        history.set_kind(v1::DECISIONS_CONFIRMED);
        history.set_actor(who.actor);
        history.set_on_behalf_of(who.on_behalf_of);
        history.set_source(source);
        *history.mutable_recorded_time() = ToProto(txn.now());
        *history.mutable_effective_time() = ToProto(txn.now());
        auto catalog = catalog_.Snapshot();
        // One body for both kinds of target.
        auto confirm = [&](auto& state) -> absl::Status {
          std::vector<v1::ConsentRecord> at = RecordsOf(state.decisions(), sequence);
          std::vector<v1::ConsentRecord> confirmed =
              Confirm(*state.mutable_decisions(), sequence, *catalog, tenant, evidence, sealed,
                      txn.now(), history);
          if (confirmed.empty()) {
            std::vector<v1::ConsentRecord> already;
            for (const v1::ConsentRecord& r : at) {
              if (IsConfirmed(r)) already.push_back(r);
            }
            if (already.empty()) return NotPending(at, sequence, txn.now());
            // A second click: answered, not written.
            response.set_already_confirmed(true);
            response.set_sequence(state.sequence());
            for (const auto& r : already) *response.add_records() = r;
            return absl::OkStatus();
          }
          AppendChange(txn, history, state);
          // The lifespan runs from the confirmation: the grant's expiry and reminder.
          IndexDue(txn, catalog_, history);
          response.set_sequence(state.sequence());
          for (const auto& r : confirmed) *response.add_records() = r;
          return absl::OkStatus();
        };
        if (claims.target.has_contact()) {
          ASSIGN_OR_RETURN(auto state, LoadContact(txn, tenant, claims.target.contact()));
          RETURN_IF_ERROR(confirm(state));
        } else {
          ASSIGN_OR_RETURN(auto state, LoadSubject(txn, tenant, claims.target.subject_id()));
          RETURN_IF_ERROR(confirm(state));
        }
        return response;
      });
}

void Ledger::ResendConfirmation(const v1::ResendConfirmationRequest& request, absl::Time deadline,
                                Callback<v1::ResendConfirmationResponse> done,
                                const Caller& caller) {
  (void)caller;  // A resend changes no state: it has no history record to attribute.
  struct Checked {
    v1::TargetRef target;
    std::optional<v1::ContactPoint> plain;
  };
  auto checked = [&]() -> absl::StatusOr<Checked> {
    RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
    RETURN_IF_ERROR(core::ValidateActor("actor", request.actor()));
    Checked c;
    ASSIGN_OR_RETURN(c.target, ResolveTarget("target", request.tenant(), request.target()));
    if (request.sequence() == 0) return InvalidField("sequence", "is required");
    ASSIGN_OR_RETURN(c.plain, PlainContactPoint("target", request.target()));
    RETURN_IF_ERROR(RequireConfirmationKeys(c.plain.has_value()));
    return c;
  }();
  if (!checked.ok()) return done(checked.status());
  SubmitWrite<v1::ResendConfirmationResponse>(
      committer_, deadline, std::move(done),
      [this, tenant = request.tenant(), sequence = request.sequence(),
       checked =
           *std::move(checked)](store::Txn& txn) -> absl::StatusOr<v1::ResendConfirmationResponse> {
        google::protobuf::RepeatedPtrField<v1::ConsentRecord> decisions;
        if (checked.target.has_contact()) {
          ASSIGN_OR_RETURN(auto state, LoadContact(txn, tenant, checked.target.contact()));
          decisions = state.decisions();
        } else {
          ASSIGN_OR_RETURN(auto state, LoadSubject(txn, tenant, checked.target.subject_id()));
          decisions = state.decisions();
        }
        const std::vector<v1::ConsentRecord> at = RecordsOf(decisions, sequence);
        ConfirmationNotice notice{
            tenant, checked.target, sequence, {}, absl::InfinitePast(), checked.plain, ""};
        absl::Time first_notice = absl::InfinitePast();
        for (const v1::ConsentRecord& r : at) {
          if (!IsLivePending(r, txn.now())) continue;
          notice.records.push_back(r);
          notice.expire_time = std::max(notice.expire_time, FromProto(r.expire_time()));
          first_notice = std::max(first_notice, FromProto(r.recorded_time()));
        }
        if (notice.records.empty()) {
          if (at.empty()) {
            return FailedPrecondition(
                absl::StrCat("sequence: the target holds no decisions of sequence ", sequence));
          }
          return NotPending(at, sequence, txn.now());
        }
        // Durable rate limit: the count of resends and the time of the last notice.
        const std::string key = ResendKey(tenant, checked.target, sequence);
        ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kLifecycle, key));
        uint32_t count = 0;
        absl::Time last = first_notice;
        if (raw.has_value() && raw->size() == 12) {
          count = store::ReadBigEndian32(*raw);
          last = absl::FromUnixMicros(
              static_cast<int64_t>(store::ReadBigEndian64(std::string_view(*raw).substr(4))));
        }
        if (count >= static_cast<uint32_t>(kMaxResends)) {
          return absl::ResourceExhaustedError(
              absl::StrCat("sequence: the confirmation was already sent again ", kMaxResends,
                           " times (the most allowed); record the grant again for a new one"));
        }
        if (txn.now() < last + kResendInterval) {
          const int64_t wait = absl::ToInt64Seconds(
              absl::Ceil(last + kResendInterval - txn.now(), absl::Seconds(1)));
          return absl::ResourceExhaustedError(
              absl::StrCat("sequence: the confirmation was sent less than 5 minutes ago; retry in ",
                           wait, " s"));
        }
        ++count;
        notice.event_suffix = absl::StrCat("/", count);
        ASSIGN_OR_RETURN(std::string event_id, StageConfirmationNotice(txn, notice));
        std::string value;
        store::PutBigEndian32(&value, count);
        store::PutBigEndian64(&value, static_cast<uint64_t>(absl::ToUnixMicros(txn.now())));
        txn.Put(store::Cf::kLifecycle, key, std::move(value));
        v1::ResendConfirmationResponse response;
        response.set_event_id(std::move(event_id));
        *response.mutable_expire_time() = ToProto(notice.expire_time);
        return response;
      });
}

}  // namespace assent::ledger
