// The permissions of Assent's API. Every RPC needs exactly one (consentd's table in
// services/consentd/permissions.cc, mirrored in the README); a few requests need a second one
// for what they carry (a backdated import, a contact point addressed by its hash).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace assent::authz {

enum class Permission : uint8_t {
  kConsentWrite,    // record decisions, preferences, suppressions
  kConsentCheck,    // Check, BatchCheck
  kConsentRead,     // a subject's or contact point's current state
  kHistoryRead,     // history and its verification
  kCatalogRead,     // tenants, purposes, default policies (what senders and prefcenter need)
  kCatalogAdmin,    // create and change purposes and default policies
  kContactByHash,   // address a contact point by its keyed hash instead of its value
  kConsentImport,   // decisions with ImportInfo (original, backdated effective times)
  kSubjectExport,   // everything held about a subject
  kSubjectErase,    // erasure
  kSubjectLink,     // link and unlink contact points to subjects
  kLinkCreate,      // sign customer links (preference center, one-click unsubscribe)
  kAdmin,           // create tenants; operations on the service itself
  kClusterForward,  // a peer forwarding a call it accepted on behalf of its caller
  kReportRead,      // consent reports: aggregate counts, no subject
};
inline constexpr int kPermissionCount = static_cast<int>(Permission::kReportRead) + 1;

// The permission's name in policy files, errors and metrics ("consent.write").
std::string_view PermissionName(Permission permission);
// The permission named `name`, or nullopt.
std::optional<Permission> ParsePermission(std::string_view name);

// A set of permissions.
class PermissionSet {
 public:
  constexpr PermissionSet() = default;
  static constexpr PermissionSet All() { return PermissionSet((1u << kPermissionCount) - 1); }
  void Add(Permission p) { bits_ |= Bit(p); }
  void Add(PermissionSet other) { bits_ |= other.bits_; }
  constexpr bool Has(Permission p) const { return (bits_ & Bit(p)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }

 private:
  constexpr explicit PermissionSet(uint32_t bits) : bits_(bits) {}
  static constexpr uint32_t Bit(Permission p) { return 1u << static_cast<int>(p); }
  uint32_t bits_ = 0;
};

}  // namespace assent::authz
