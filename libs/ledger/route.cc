#include "ledger/route.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "ledger/due.h"
#include "ledger/events.h"

namespace assent::ledger {
namespace {

// The first `n` '\0'-separated parts of `key` (fewer when it has fewer).
std::vector<std::string_view> Parts(std::string_view key, size_t n) {
  std::vector<std::string_view> out;
  while (out.size() < n) {
    const size_t end = key.find('\0');
    out.push_back(key.substr(0, end));
    if (end == std::string_view::npos) break;
    key.remove_prefix(end + 1);
  }
  return out;
}

// tenant \0 entity ... -> the entity's route key.
std::optional<std::string> EntityRoute(std::string_view tenant, std::string_view entity) {
  if (tenant.empty() || entity.size() < 3) return std::nullopt;
  if (entity.substr(0, 2) == "s:") return absl::StrCat(Sv(tenant), "/", Sv(entity.substr(2)));
  if (entity.substr(0, 2) == "c:") return absl::StrCat(Sv(tenant), "/", Sv(entity));
  return std::nullopt;
}

std::optional<std::string> TenantEntityRoute(std::string_view key) {
  std::vector<std::string_view> parts = Parts(key, 2);
  if (parts.size() < 2) return std::nullopt;
  return EntityRoute(parts[0], parts[1]);
}

}  // namespace

std::string RouteKey(std::string_view tenant, const v1::TargetRef& target) {
  return EventKey(tenant, target);
}

std::string TenantRouteKey(std::string_view tenant) { return std::string(tenant); }

bool IsSharedWrite(store::Cf cf, std::string_view key) {
  switch (cf) {
    case store::Cf::kSubjects:
    case store::Cf::kContacts:
    case store::Cf::kCatalog:
    case store::Cf::kReports:
    // The evidence data keys: states read anywhere reveal their sealed evidence with them, and an
    // erasure's deletion of a key must reach every instance (crypto-shredding).
    case store::Cf::kKeys:
      return true;
    case store::Cf::kLifecycle:
      // Re-permission campaigns, their lists and their walks' cursors per partition ("r" | "l" |
      // "p" \0 ...): tenant-wide bookkeeping read by ListRepermissionRequired. Not the per-target
      // rate limits beside them.
      return key.size() > 1 && (key[0] == 'r' || key[0] == 'l' || key[0] == 'p') && key[1] == '\0';
    case store::Cf::kRights:
      // "e" \0 tenant \0 subject: an erasure stub; "o" \0 tenant: a tenant's offboarding; "q" \0
      // route key \0 tenant: its walk in one partition (cluster mode).
      return key.size() > 1 && (key[0] == 'e' || key[0] == 'o' || key[0] == 'q') && key[1] == '\0';
    default:
      return false;
  }
}

std::optional<std::string> RouteOfWrite(store::Cf cf, std::string_view key) {
  switch (cf) {
    case store::Cf::kSubjects: {
      std::vector<std::string_view> parts = Parts(key, 2);
      if (parts.size() < 2 || parts[0].empty()) return std::nullopt;
      return absl::StrCat(Sv(parts[0]), "/", Sv(parts[1]));
    }
    case store::Cf::kContacts:
    case store::Cf::kHistory:
    case store::Cf::kKeys:
      return TenantEntityRoute(key);
    case store::Cf::kDue: {
      std::optional<DueKey> due = DecodeDueKey(key);
      if (!due.has_value()) return std::nullopt;
      return EntityRoute(due->tenant, due->entity);
    }
    case store::Cf::kRights: {
      // "h" | "e" | "i" | "n" \0 tenant \0 subject (hold, erasure stub, link intent and its
      // counter) | "j" \0 tenant \0 contact entity \0 subject (link half) | "o" \0 tenant |
      // "q" \0 route key \0 tenant. An offboarding goes with the tenant's catalog: one owner
      // serialises its start.
      std::vector<std::string_view> parts = Parts(key, 3);
      if (parts.size() == 2 && parts[0] == "o" && !parts[1].empty()) {
        return TenantRouteKey(parts[1]);
      }
      if (parts.size() < 3) return std::nullopt;
      if (parts[0] == "j") return EntityRoute(parts[1], parts[2]);
      // "q" \0 route key \0 tenant: an offboarding's walk in the partition of that route key.
      if (parts[0] == "q")
        return parts[1].empty() ? std::nullopt : std::optional(std::string(parts[1]));
      if (parts[0] != "h" && parts[0] != "e" && parts[0] != "i" && parts[0] != "n") {
        return std::nullopt;
      }
      return absl::StrCat(Sv(parts[1]), "/", Sv(parts[2]));
    }
    case store::Cf::kProof:
      // "w" + history key; "q" + route key: a partition's proof cursor (cluster mode), in that
      // partition; "p" + partition + offset (pending) travels with its mutation.
      if (key.size() > 1 && key[0] == 'q') return std::string(key.substr(1));
      if (key.empty() || key[0] != 'w') return std::nullopt;
      return TenantEntityRoute(key.substr(1));
    case store::Cf::kLifecycle: {
      // "p" \0 route key \0 ...: a re-permission campaign's cursor in one partition (cluster
      // mode), in that partition.
      std::vector<std::string_view> parts = Parts(key, 3);
      if (parts.size() < 3 || parts[0] != "p" || parts[1].empty()) return std::nullopt;
      return std::string(parts[1]);
    }
    case store::Cf::kCatalog: {
      std::vector<std::string_view> parts = Parts(key, 2);
      if (parts.size() < 2 || parts[1].empty()) return std::nullopt;
      return TenantRouteKey(parts[1]);
    }
    default:
      return std::nullopt;
  }
}

std::function<bool(std::string_view key)> OwnedKeys(
    store::Cf cf, std::function<bool(std::string_view route)> owns) {
  return [cf, owns = std::move(owns)](std::string_view key) {
    std::optional<std::string> route = RouteOfWrite(cf, key);
    return !route.has_value() || owns(*route);
  };
}

}  // namespace assent::ledger
