#include "links/keyring.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "core/validate.h"
#include "yaml-cpp/yaml.h"

namespace assent::links {
namespace {

constexpr std::string_view kKeyLabel = "assent/link-key/v2/";

bool IsKeyIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

absl::Status ValidateKeyId(std::string_view field, std::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdLength) {
    return InvalidField(field, absl::StrCat("must be 1..", kMaxKeyIdLength, " characters"));
  }
  for (char c : id) {
    if (!IsKeyIdChar(c)) return InvalidField(field, "may hold only A-Z a-z 0-9 _ -");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Scalar(const YAML::Node& node, const std::string& field,
                                   bool required) {
  if (!node) {
    if (required) return InvalidField(field, "is required");
    return std::string();
  }
  if (!node.IsScalar()) return InvalidField(field, "must be a string");
  return node.as<std::string>();
}

absl::StatusOr<KeyRing::Key> ParseKey(const YAML::Node& node, const std::string& field) {
  if (!node.IsMap()) return InvalidField(field, "must be a map with id and secret");
  KeyRing::Key key;
  ASSIGN_OR_RETURN(key.id, Scalar(node["id"], field + ".id", true));
  RETURN_IF_ERROR(ValidateKeyId(field + ".id", key.id));
  ASSIGN_OR_RETURN(std::string secret_b64, Scalar(node["secret"], field + ".secret", true));
  // Standard or URL-safe alphabet, padded or not; the message never echoes the value.
  if (!absl::Base64Unescape(Sv(secret_b64), &key.secret) &&
      !absl::WebSafeBase64Unescape(Sv(secret_b64), &key.secret)) {
    return InvalidField(field + ".secret", "is not base64");
  }
  if (key.secret.size() < kMinKeySecretBytes) {
    return InvalidField(field + ".secret",
                        absl::StrCat("must decode to at least ", kMinKeySecretBytes, " bytes"));
  }
  ASSIGN_OR_RETURN(key.tenant, Scalar(node["tenant"], field + ".tenant", false));
  if (!key.tenant.empty()) RETURN_IF_ERROR(core::ValidateTenantId(field + ".tenant", key.tenant));
  ASSIGN_OR_RETURN(std::string staged, Scalar(node["staged"], field + ".staged", false));
  if (staged == "true") {
    key.staged = true;
  } else if (!staged.empty() && staged != "false") {
    return InvalidField(field + ".staged", "must be true or false");
  }
  return key;
}

}  // namespace

std::string DeriveLinkKey(std::string_view secret, std::string_view tenant) {
  return HmacSha256(secret, absl::StrCat(Sv(kKeyLabel), Sv(tenant)));
}

absl::StatusOr<KeyRing> KeyRing::Parse(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // The parser's message may quote the offending line, which could hold a secret.
    return InvalidField("keyring", absl::StrCat("is not valid YAML (line ", e.mark.line + 1, ")"));
  }
  if (!root.IsMap() || !root["keys"] || !root["keys"].IsSequence()) {
    return InvalidField("keys", "must be a list of keys");
  }
  std::vector<Key> keys;
  std::set<std::string> ids;
  for (size_t i = 0; i < root["keys"].size(); ++i) {
    const std::string field = absl::StrCat("keys[", i, "]");
    ASSIGN_OR_RETURN(Key key, ParseKey(root["keys"][i], field));
    if (!ids.insert(key.id).second) {
      return InvalidField(field + ".id", absl::StrCat("duplicates key id \"", key.id, "\""));
    }
    keys.push_back(std::move(key));
  }
  if (keys.empty()) return InvalidField("keys", "must hold at least one key");
  if (std::all_of(keys.begin(), keys.end(), [](const Key& k) { return k.staged; })) {
    return InvalidField("keys", "must hold at least one key that is not staged");
  }
  return KeyRing(std::move(keys));
}

absl::StatusOr<KeyRing> KeyRing::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("link keyring file ", path, ": cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  auto ring = Parse(text.str());
  if (!ring.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("link keyring file ", path, ": ", ring.status().message()));
  }
  return ring;
}

const KeyRing::Key& KeyRing::Current() const {
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (!it->staged) return *it;
  }
  return keys_.back();  // only for a hand-built keyring of staged keys, which Parse refuses
}

absl::StatusOr<KeyRing::TenantKey> KeyRing::SigningKey(std::string_view tenant) const {
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (it->staged) continue;
    if (Serves(*it, tenant)) {
      return TenantKey{it->id, DeriveLinkKey(it->secret, tenant)};
    }
  }
  return FailedPrecondition(
      absl::StrCat("links: no key of the link keyring serves tenant ", Sv(tenant)));
}

std::optional<std::string> KeyRing::VerifyingKey(std::string_view id,
                                                 std::string_view tenant) const {
  for (const Key& key : keys_) {
    if (key.id == id && Serves(key, tenant)) return DeriveLinkKey(key.secret, tenant);
  }
  return std::nullopt;
}

std::vector<std::string> KeyRing::VerifyingKeys(std::string_view tenant) const {
  std::vector<std::string> out;
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    if (Serves(*it, tenant)) out.push_back(DeriveLinkKey(it->secret, tenant));
  }
  return out;
}

}  // namespace assent::links
