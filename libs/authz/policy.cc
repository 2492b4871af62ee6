#include "authz/policy.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/hex.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "core/validate.h"
#include "yaml-cpp/yaml.h"

namespace assent::authz {
namespace {

std::string Index(std::string_view list, size_t i) { return absl::StrCat(Sv(list), "[", i, "]"); }

// A list of plain strings at `node`, or INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::vector<std::string>> Strings(const YAML::Node& node, std::string_view field) {
  std::vector<std::string> out;
  if (!node) return out;
  if (!node.IsSequence()) return InvalidField(field, "must be a list");
  for (size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) return InvalidField(Index(field, i), "must be a string");
    out.push_back(node[i].Scalar());
  }
  return out;
}

absl::StatusOr<PermissionSet> Permissions(const YAML::Node& node, std::string_view field) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, Strings(node, field));
  PermissionSet set;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == "*") {
      set.Add(PermissionSet::All());
      continue;
    }
    std::optional<Permission> p = ParsePermission(names[i]);
    if (!p.has_value()) {
      return InvalidField(Index(field, i), absl::StrCat("unknown permission \"", names[i], "\""));
    }
    set.Add(*p);
  }
  return set;
}

absl::Status CheckKeys(const YAML::Node& node, std::string_view field,
                       std::initializer_list<std::string_view> known) {
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return InvalidField(absl::StrCat(Sv(field), ".", key), "unknown key");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseDocument(const YAML::Node& root, absl::flat_hash_map<std::string, Grant>& grants,
                           absl::flat_hash_map<std::string, std::string>& tokens) {
  if (!root.IsMap()) return InvalidField("policy", "must be a mapping with a principals list");
  RETURN_IF_ERROR(CheckKeys(root, "policy", {"roles", "principals"}));

  absl::flat_hash_map<std::string, PermissionSet> roles;
  if (const YAML::Node r = root["roles"]) {
    if (!r.IsMap()) return InvalidField("roles", "must be a mapping of role name to permissions");
    for (const auto& entry : r) {
      const std::string name = entry.first.as<std::string>();
      ASSIGN_OR_RETURN(roles[name], Permissions(entry.second, absl::StrCat("roles.", name)));
    }
  }

  const YAML::Node principals = root["principals"];
  if (!principals || !principals.IsSequence()) {
    return InvalidField("principals", "must be a list (it may be empty: nobody may do anything)");
  }
  for (size_t i = 0; i < principals.size(); ++i) {
    const YAML::Node p = principals[i];
    const std::string field = Index("principals", i);
    if (!p.IsMap()) return InvalidField(field, "must be a mapping");
    RETURN_IF_ERROR(
        CheckKeys(p, field, {"id", "tenants", "permissions", "roles", "tokens_sha256"}));
    if (!p["id"] || !p["id"].IsScalar() || p["id"].Scalar().empty()) {
      return InvalidField(field + ".id", "required");
    }
    const std::string id = p["id"].Scalar();
    if (id.size() > 512) return InvalidField(field + ".id", "must be at most 512 characters");
    if (grants.contains(id)) {
      return InvalidField(field + ".id", absl::StrCat("principal \"", id, "\" is listed twice"));
    }
    Grant grant;
    ASSIGN_OR_RETURN(std::vector<std::string> tenants, Strings(p["tenants"], field + ".tenants"));
    if (tenants.empty()) return InvalidField(field + ".tenants", "required (a list, or [\"*\"])");
    for (size_t t = 0; t < tenants.size(); ++t) {
      if (tenants[t] == "*") {
        grant.all_tenants = true;
        continue;
      }
      RETURN_IF_ERROR(core::ValidateTenantId(Index(field + ".tenants", t), tenants[t]));
      grant.tenants.insert(tenants[t]);
    }
    ASSIGN_OR_RETURN(grant.permissions, Permissions(p["permissions"], field + ".permissions"));
    ASSIGN_OR_RETURN(std::vector<std::string> role_names, Strings(p["roles"], field + ".roles"));
    for (size_t r = 0; r < role_names.size(); ++r) {
      auto role = roles.find(role_names[r]);
      if (role == roles.end()) {
        return InvalidField(Index(field + ".roles", r),
                            absl::StrCat("unknown role \"", role_names[r], "\""));
      }
      grant.permissions.Add(role->second);
    }
    if (grant.permissions.empty()) {
      return InvalidField(field + ".permissions", "no permission granted (permissions or roles)");
    }
    ASSIGN_OR_RETURN(std::vector<std::string> hashes,
                     Strings(p["tokens_sha256"], field + ".tokens_sha256"));
    for (size_t t = 0; t < hashes.size(); ++t) {
      const std::string token_field = Index(field + ".tokens_sha256", t);
      std::optional<std::string> digest = FromHex(hashes[t]);
      if (!digest.has_value() || digest->size() != 32) {
        return InvalidField(token_field,
                            "must be the SHA-256 of the token, 64 hex digits (never the token)");
      }
      if (!tokens.emplace(*digest, id).second) {
        return InvalidField(token_field, "the same token hash is listed twice");
      }
    }
    grants.emplace(id, std::move(grant));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Policy> Policy::Parse(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return InvalidField("policy", absl::StrCat("not valid YAML at line ", e.mark.line + 1,
                                               ", column ", e.mark.column + 1, ": ", e.msg));
  }
  Policy policy;
  try {
    absl::flat_hash_map<std::string, Grant> grants;
    absl::flat_hash_map<std::string, std::string> tokens;
    RETURN_IF_ERROR(ParseDocument(root, grants, tokens));
    policy.grants_ = std::move(grants);
    policy.tokens_ = std::move(tokens);
  } catch (const YAML::Exception& e) {
    return InvalidField(
        "policy", absl::StrCat("unexpected structure at line ", e.mark.line + 1, ": ", e.msg));
  }
  return policy;
}

absl::Status Policy::Check(std::string_view principal, std::string_view tenant,
                           Permission permission) const {
  if (Allows(principal, tenant, permission)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "principal \"", Sv(principal), "\" lacks permission ", Sv(PermissionName(permission)),
      tenant.empty() ? std::string(" on every tenant")
                     : absl::StrCat(" on tenant \"", Sv(tenant), "\"")));
}

const Grant* Policy::Find(std::string_view principal) const {
  auto it = grants_.find(Sv(principal));
  return it == grants_.end() ? nullptr : &it->second;
}

const std::string* Policy::TokenPrincipal(std::string_view token_sha256) const {
  auto it = tokens_.find(Sv(token_sha256));
  return it == tokens_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::unique_ptr<PolicyFile>> PolicyFile::Open(std::string path) {
  std::unique_ptr<PolicyFile> file(new PolicyFile(std::move(path)));
  absl::MutexLock lock(&file->mu_);
  RETURN_IF_ERROR(file->ReadLocked());
  return file;
}

absl::Status PolicyFile::Reload() {
  absl::MutexLock lock(&mu_);
  return ReadLocked();
}

namespace {

std::string FileIdentity(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_dev, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

}  // namespace

absl::StatusOr<bool> PolicyFile::ReloadIfChanged() {
  absl::MutexLock lock(&mu_);
  if (FileIdentity(path_) == file_identity_) return false;
  RETURN_IF_ERROR(ReadLocked());
  return true;
}

absl::Status PolicyFile::ReadLocked() {
  // The identity is taken before reading: a write racing the read is seen as a change next time.
  const std::string identity = FileIdentity(path_);
  if (identity.empty()) return absl::NotFoundError(absl::StrCat("policy file not found: ", path_));
  std::ifstream in(path_);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return InvalidField("policy_file", absl::StrCat("cannot read ", path_));
  file_identity_ = identity;  // a bad file is not re-read until it changes again
  absl::StatusOr<Policy> policy = Policy::Parse(text.str());
  if (!policy.ok()) {
    return absl::Status(policy.status().code(),
                        absl::StrCat(path_, ": ", policy.status().message()));
  }
  all_.push_back(std::make_unique<const Policy>(*std::move(policy)));
  current_.store(all_.back().get(), std::memory_order_release);
  return absl::OkStatus();
}

}  // namespace assent::authz
