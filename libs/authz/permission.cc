#include "authz/permission.h"

#include <array>

namespace assent::authz {
namespace {

constexpr std::array<std::string_view, kPermissionCount> kNames = {
    "consent.write", "consent.check",   "consent.read",   "history.read",    "catalog.read",
    "catalog.admin", "contact.by_hash", "consent.import", "subject.export",  "subject.erase",
    "subject.link",  "link.create",     "admin",          "cluster.forward", "report.read",
};

}  // namespace

std::string_view PermissionName(Permission permission) {
  return kNames[static_cast<size_t>(permission)];
}

std::optional<Permission> ParsePermission(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Permission>(i);
  }
  return std::nullopt;
}

}  // namespace assent::authz
