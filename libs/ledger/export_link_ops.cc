// "Download my data" (RequestExportLink): an EXPORT link mailed, sealed in an ExportLinkRequested
// notice, to an address the customer typed and that is linked to the subject. The customer proves
// control of the address again; an old, possibly forwarded preference link is not enough.
#include "absl/strings/str_cat.h"
#include "assent/v1/lifecycle.pb.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "contact/normalize.h"
#include "core/validate.h"
#include "ledger/change.h"
#include "ledger/events.h"
#include "ledger/ledger.h"
#include "links/sealed.h"
#include "links/token.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

// The rate-limit record of a subject's export-link requests in Cf::kLifecycle:
// "export-link" \0 tenant \0 subject -> big-endian 64-bit total count, 64-bit unix microseconds
// of the current window's start, 32-bit count in the window, 64-bit unix microseconds of the
// last request.
std::string ExportLinkKey(std::string_view tenant, std::string_view subject_id) {
  std::string key("export-link");
  key.push_back('\0');
  key.append(tenant);
  key.push_back('\0');
  key.append(subject_id);
  return key;
}

struct RateRecord {
  uint64_t total = 0;
  absl::Time window_start = absl::InfinitePast();
  uint32_t window_count = 0;
  absl::Time last = absl::InfinitePast();
};
constexpr size_t kRateRecordBytes = 28;

RateRecord ReadRate(std::string_view raw) {
  RateRecord r;
  if (raw.size() != kRateRecordBytes) return r;
  r.total = store::ReadBigEndian64(raw);
  r.window_start =
      absl::FromUnixMicros(static_cast<int64_t>(store::ReadBigEndian64(raw.substr(8))));
  r.window_count = store::ReadBigEndian32(raw.substr(16));
  r.last = absl::FromUnixMicros(static_cast<int64_t>(store::ReadBigEndian64(raw.substr(20))));
  return r;
}

std::string WriteRate(const RateRecord& r) {
  std::string value;
  store::PutBigEndian64(&value, r.total);
  store::PutBigEndian64(&value, static_cast<uint64_t>(absl::ToUnixMicros(r.window_start)));
  store::PutBigEndian32(&value, r.window_count);
  store::PutBigEndian64(&value, static_cast<uint64_t>(absl::ToUnixMicros(r.last)));
  return value;
}

bool SameRef(const v1::ContactRef& a, const v1::ContactRef& b) {
  return a.type() == b.type() && a.hash() == b.hash();
}

}  // namespace

void Ledger::RequestExportLink(const v1::RequestExportLinkRequest& request, absl::Time deadline,
                               Callback<v1::RequestExportLinkResponse> done, const Caller& caller) {
  (void)caller;  // Changes no consent state: no history record to attribute.
  struct Checked {
    v1::TargetRef target;
    v1::ContactPoint plain;
    v1::ContactRef address;
  };
  auto checked = [&]() -> absl::StatusOr<Checked> {
    RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
    RETURN_IF_ERROR(core::ValidateActor("actor", request.actor()));
    v1::Evidence language;
    language.set_language(request.language());
    RETURN_IF_ERROR(core::ValidateEvidence("", language));
    Checked c;
    ASSIGN_OR_RETURN(c.target, ResolveTarget("target", request.tenant(), request.target()));
    if (!request.has_contact_point()) return InvalidField("contact_point", "is required");
    c.plain.set_type(request.contact_point().type());
    ASSIGN_OR_RETURN(*c.plain.mutable_value(),
                     contact::Normalize("contact_point", request.contact_point()));
    ASSIGN_OR_RETURN(c.address, contact::ToRef("contact_point", TenantContactKey(request.tenant()),
                                               request.contact_point()));
    if (options_.link_keyring == nullptr) {
      return FailedPrecondition(
          "links: consentd has no link keyring (links.keyring_file) to mint the export link");
    }
    if (options_.confirmation_keyring == nullptr) {
      return FailedPrecondition(
          "confirmation: consentd has no confirmation keyring (confirmation.keyring_file) to seal "
          "the address the export link is mailed to");
    }
    return c;
  }();
  if (!checked.ok()) return done(checked.status());
  SubmitWrite<v1::RequestExportLinkResponse>(
      committer_, deadline, std::move(done),
      [this, tenant = request.tenant(), language = request.language(),
       checked =
           *std::move(checked)](store::Txn& txn) -> absl::StatusOr<v1::RequestExportLinkResponse> {
        // The subject, and whether the typed address is one of its contact points.
        std::string subject_id;
        bool linked = false;
        if (checked.target.has_contact()) {
          ASSIGN_OR_RETURN(auto state, LoadContact(txn, tenant, checked.target.contact()));
          subject_id = state.linked_subject_id();
          linked = SameRef(checked.target.contact(), checked.address);
          if (subject_id.empty()) {
            return FailedPrecondition(
                "target: the contact point is not linked to a subject; there is no subject's "
                "data to download");
          }
        } else {
          subject_id = checked.target.subject_id();
        }
        ASSIGN_OR_RETURN(auto subject, LoadSubject(txn, tenant, subject_id));
        for (const v1::ContactRef& ref : subject.contacts()) {
          if (SameRef(ref, checked.address)) linked = true;
        }
        // Durable rate limit per subject, whatever the address (an unlinked address is counted
        // too, so addresses cannot be tried in bulk).
        const std::string key = ExportLinkKey(tenant, subject_id);
        ASSIGN_OR_RETURN(auto raw, txn.Get(store::Cf::kLifecycle, key));
        RateRecord rate = raw.has_value() ? ReadRate(*raw) : RateRecord();
        if (txn.now() < rate.last + kExportLinkInterval) {
          const int64_t wait = absl::ToInt64Seconds(
              absl::Ceil(rate.last + kExportLinkInterval - txn.now(), absl::Seconds(1)));
          return absl::ResourceExhaustedError(absl::StrCat(
              "target: a download link was asked for less than 5 minutes ago; retry in ", wait,
              " s"));
        }
        if (txn.now() >= rate.window_start + kExportLinkWindow) {
          rate.window_start = txn.now();
          rate.window_count = 0;
        }
        if (rate.window_count >= static_cast<uint32_t>(kMaxExportLinksPerWindow)) {
          return absl::ResourceExhaustedError(
              absl::StrCat("target: ", kMaxExportLinksPerWindow,
                           " download links were asked for in the last 24 hours (the most "
                           "allowed); retry later"));
        }
        ++rate.total;
        ++rate.window_count;
        rate.last = txn.now();
        txn.Put(store::Cf::kLifecycle, key, WriteRate(rate));
        if (linked) {
          v1::TargetRef subject_ref;
          subject_ref.set_subject_id(subject_id);
          v1::ExportLinkRequested notice;
          notice.set_event_id(
              absl::StrCat(EventKey(tenant, subject_ref), "/export-link/", rate.total));
          notice.set_tenant(tenant);
          *notice.mutable_target() = subject_ref;
          const absl::Time expire =
              absl::FromUnixSeconds(absl::ToUnixSeconds(txn.now() + kExportLinkTtl));
          *notice.mutable_expire_time() = ToProto(expire);
          *notice.mutable_notice_time() = ToProto(txn.now());
          notice.set_language(language.empty() ? subject.preferences().preferred_language()
                                               : language);
          links::LinkClaims claims;
          claims.tenant = tenant;
          claims.kind = v1::EXPORT;
          claims.target = subject_ref;
          claims.address = checked.address;
          claims.expire_time = expire;
          v1::ConfirmationSecret secret;
          *secret.mutable_contact_point() = checked.plain;
          ASSIGN_OR_RETURN(*secret.mutable_token(),
                           links::MintLink(*options_.link_keyring, claims));
          if (!options_.link_base_url.empty()) {
            secret.set_url(links::LinkUrl(options_.link_base_url, v1::EXPORT, secret.token()));
          }
          ASSIGN_OR_RETURN(*notice.mutable_sealed(),
                           links::Seal(*options_.confirmation_keyring, secret.SerializeAsString(),
                                       notice.event_id()));
          txn.PutNew(store::Cf::kOutbox, store::OutboxKey(txn.NextOutboxId()),
                     BuildNoticeRecord(tenant, subject_ref, notice, txn.now()).SerializeAsString());
        }
        return v1::RequestExportLinkResponse();
      });
}

}  // namespace assent::ledger
