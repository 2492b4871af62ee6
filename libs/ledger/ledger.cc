#include "ledger/ledger.h"

#include "common/errors.h"
#include "common/status_macros.h"
#include "contact/normalize.h"
#include "core/validate.h"
#include "ledger/change.h"
#include "ledger/route.h"
#include "links/token.h"

namespace assent::ledger {

absl::StatusOr<std::unique_ptr<Ledger>> Ledger::Create(store::Store& store,
                                                       store::Committer& committer,
                                                       const Clock& clock, LedgerOptions options) {
  if (options.contact_key_secret.size() < 16) {
    return InvalidField("contact_key_secret", "must be at least 16 bytes");
  }
  RETURN_IF_ERROR(core::ValidateDeadlineRules(options.deadline_rules, "deadline_rules"));
  SetEvidenceSealed(options.evidence_keyring != nullptr);
  std::unique_ptr<Ledger> ledger(new Ledger(store, committer, clock, std::move(options)));
  RETURN_IF_ERROR(ledger->catalog_.Load(store));
  return ledger;
}

std::string Ledger::TenantContactKey(std::string_view tenant) const {
  return contact::DeriveTenantKey(options_.contact_key_secret, tenant);
}

absl::StatusOr<std::string> Ledger::RouteKeyOf(std::string_view field, std::string_view tenant,
                                               const v1::Target& target) const {
  ASSIGN_OR_RETURN(v1::TargetRef ref, ResolveTarget(field, tenant, target));
  return RouteKey(tenant, ref);
}

absl::StatusOr<std::string> Ledger::RouteKeyOf(std::string_view field, std::string_view tenant,
                                               const v1::ContactPoint& contact_point) const {
  v1::TargetRef ref;
  ASSIGN_OR_RETURN(*ref.mutable_contact(),
                   contact::ToRef(field, TenantContactKey(tenant), contact_point));
  return RouteKey(tenant, ref);
}

absl::StatusOr<std::string> Ledger::RouteKeyOfConfirmation(std::string_view tenant,
                                                           std::string_view token) const {
  if (options_.link_keyring == nullptr) return FailedPrecondition("links: no link keyring");
  ASSIGN_OR_RETURN(links::LinkClaims claims,
                   links::VerifyLink(*options_.link_keyring, "", token, clock_.Now()));
  return RouteKey(tenant, claims.target);
}

absl::Status Ledger::ReloadCatalog() { return catalog_.Load(store_); }

void Ledger::ForgetDataKeys(const std::vector<std::string>& key_names) const {
  if (vault_ == nullptr) return;
  for (const std::string& name : key_names) vault_->ForgetStored(name);
}

absl::StatusOr<v1::TargetRef> Ledger::ResolveTarget(std::string_view field, std::string_view tenant,
                                                    const v1::Target& target) const {
  v1::TargetRef ref;
  switch (target.kind_case()) {
    case v1::Target::kSubjectId:
      // The field's path is built only for an error: a BatchCheck resolves up to 10,000 targets.
      RETURN_IF_ERROR(
          WithFieldPrefix(core::ValidateSubjectId("subject_id", target.subject_id()), field));
      ref.set_subject_id(target.subject_id());
      return ref;
    case v1::Target::kContactPoint: {
      ASSIGN_OR_RETURN(*ref.mutable_contact(),
                       contact::ToRef(std::string(field) + ".contact_point",
                                      TenantContactKey(tenant), target.contact_point()));
      return ref;
    }
    case v1::Target::kContactRef: {
      RETURN_IF_ERROR(
          contact::ValidateRef(std::string(field) + ".contact_ref", target.contact_ref()));
      *ref.mutable_contact() = target.contact_ref();
      return ref;
    }
    default:
      return InvalidField(field, "must name a subject_id, a contact_point or a contact_ref");
  }
}

}  // namespace assent::ledger
