// The authorization policy: which principals may do what, on which tenants. Read from a YAML file
// (format below, documented in the README), immutable once parsed; PolicyFile keeps the current
// one and swaps in a new one when the file changes or on request (SIGHUP).
//
//   roles:                        # optional: named permission sets
//     sender: [catalog.read, consent.check, consent.read, contact.by_hash]
//   principals:
//     - id: spiffe://assent.local/email-sender   # a SPIFFE ID, DNS name, certificate CN, or a
//       tenants: ["*"]                           #   name for bearer tokens
//       roles: [sender]
//     - id: crm-sync
//       tenants: [acme, globex]
//       permissions: [consent.write, consent.import]
//       tokens_sha256: [9f86d081...]             # bearer tokens of this principal, as SHA-256 hex
//
// Default deny: a principal not listed may do nothing; "*" as a tenant means every tenant, as a
// permission every permission.
//
// Thread safety: a Policy is immutable and may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "authz/permission.h"
#include "common/strings.h"

namespace assent::authz {

struct Grant {
  bool all_tenants = false;
  absl::flat_hash_set<std::string> tenants;
  PermissionSet permissions;
};

class Policy {
 public:
  // Parses a policy document. INVALID_ARGUMENT naming the offending entry
  // ("principals[1].permissions[0]: unknown permission \"consent.wirte\"") or the YAML line.
  static absl::StatusOr<Policy> Parse(std::string_view yaml);

  // True when `principal` holds `permission` on `tenant`. An empty tenant asks for every tenant
  // (only a "*" grant has it); kAnyTenant asks for at least one tenant (for lists that show the
  // caller its own tenants).
  static constexpr std::string_view kAnyTenant = "*";
  bool Allows(std::string_view principal, std::string_view tenant, Permission permission) const {
    auto it = grants_.find(Sv(principal));
    if (it == grants_.end() || !it->second.permissions.Has(permission)) return false;
    if (it->second.all_tenants || tenant == kAnyTenant) return true;
    return !tenant.empty() && it->second.tenants.contains(Sv(tenant));
  }

  // OK, or PERMISSION_DENIED naming the principal, the permission and the tenant.
  absl::Status Check(std::string_view principal, std::string_view tenant,
                     Permission permission) const;

  // The principal's grant, or null when the policy does not name it.
  const Grant* Find(std::string_view principal) const;

  // The principal a bearer token stands for, looked up by the SHA-256 of the token (32 raw
  // bytes); null when no principal lists it.
  const std::string* TokenPrincipal(std::string_view token_sha256) const;

  // Every principal's grant, by principal.
  const absl::flat_hash_map<std::string, Grant>& grants() const { return grants_; }
  size_t principal_count() const { return grants_.size(); }
  size_t token_count() const { return tokens_.size(); }

 private:
  absl::flat_hash_map<std::string, Grant> grants_;
  absl::flat_hash_map<std::string, std::string> tokens_;  // raw SHA-256 -> principal
};

// A policy file that can be reloaded while it is being read. The current policy is read without
// locks; policies replaced by a reload stay allocated for the life of the PolicyFile (references
// to them never dangle; a reload costs the size of one policy).
//
// Thread safety: current() from any thread; Reload() serialized internally.
class PolicyFile {
 public:
  // Reads and parses `path`; the error of Policy::Parse, or NOT_FOUND/INVALID_ARGUMENT when the
  // file cannot be read.
  static absl::StatusOr<std::unique_ptr<PolicyFile>> Open(std::string path);

  const Policy& current() const { return *current_.load(std::memory_order_acquire); }
  const std::string& path() const { return path_; }

  // Re-reads the file. On any error the current policy stays and the error is returned.
  absl::Status Reload();

  // Reloads when the file's identity (inode, size, modification time) differs from what was
  // last read (a bad file is not read again until it changes): true when it was reloaded, false
  // when unchanged, the error of a bad file.
  absl::StatusOr<bool> ReloadIfChanged();

 private:
  explicit PolicyFile(std::string path) : path_(std::move(path)) {}
  absl::Status ReadLocked();

  const std::string path_;
  std::atomic<const Policy*> current_{nullptr};
  absl::Mutex mu_;
  std::vector<std::unique_ptr<const Policy>> all_ ABSL_GUARDED_BY(mu_);
  std::string file_identity_ ABSL_GUARDED_BY(mu_);
};

}  // namespace assent::authz
