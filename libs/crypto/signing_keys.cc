#include "crypto/signing_keys.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/secret_file.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace assent::crypto {
namespace {

bool IsKeyIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

absl::Status ValidateKeyId(std::string_view field, std::string_view id) {
  if (id.empty() || id.size() > kMaxSigningKeyIdLength) {
    return InvalidField(field, absl::StrCat("must be 1..", kMaxSigningKeyIdLength, " characters"));
  }
  for (char c : id) {
    if (!IsKeyIdChar(c)) return InvalidField(field, "may hold only A-Z a-z 0-9 _ -");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Scalar(const YAML::Node& node, const std::string& field) {
  if (!node) return std::string();
  if (!node.IsScalar()) return InvalidField(field, "must be a string");
  return node.as<std::string>();
}

absl::StatusOr<std::string> ReadKeyFile(const std::string& field, const std::string& path) {
  RETURN_IF_ERROR(CheckSecretFileMode(field, path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidField(field, absl::StrCat(path, " cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<SigningKeyRing> SigningKeyRing::Parse(std::string_view yaml,
                                                     const std::string& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // The parser's message may quote the offending line, which could hold a key.
    return InvalidField("keyring", absl::StrCat("is not valid YAML (line ", e.mark.line + 1, ")"));
  }
  if (!root.IsMap() || !root["keys"] || !root["keys"].IsSequence()) {
    return InvalidField("keys", "must be a list of keys");
  }
  std::vector<Key> keys;
  std::set<std::string> ids;
  std::optional<size_t> marked;
  for (size_t i = 0; i < root["keys"].size(); ++i) {
    const std::string field = absl::StrCat("keys[", i, "]");
    const YAML::Node node = root["keys"][i];
    if (!node.IsMap()) return InvalidField(field, "must be a map with id and a private key");
    ASSIGN_OR_RETURN(std::string id, Scalar(node["id"], field + ".id"));
    RETURN_IF_ERROR(ValidateKeyId(field + ".id", id));
    if (!ids.insert(id).second) {
      return InvalidField(field + ".id", absl::StrCat("duplicates key id \"", id, "\""));
    }
    ASSIGN_OR_RETURN(std::string file,
                     Scalar(node["private_key_file"], field + ".private_key_file"));
    ASSIGN_OR_RETURN(std::string pem, Scalar(node["private_key_pem"], field + ".private_key_pem"));
    if (file.empty() == pem.empty()) {
      return InvalidField(field, "needs exactly one of private_key_file and private_key_pem");
    }
    std::string key_field = field + ".private_key_pem";
    if (!file.empty()) {
      key_field = field + ".private_key_file";
      if (!file.starts_with('/') && !base_dir.empty()) file = absl::StrCat(base_dir, "/", file);
      ASSIGN_OR_RETURN(pem, ReadKeyFile(key_field, file));
    }
    ASSIGN_OR_RETURN(Ed25519Key key, Ed25519Key::FromPrivatePem(key_field, pem));
    if (node["current"]) {
      bool current = false;
      try {
        current = node["current"].as<bool>();
      } catch (const YAML::Exception&) {
        return InvalidField(field + ".current", "must be true or false");
      }
      if (current) {
        if (marked.has_value()) {
          return InvalidField(field + ".current", "another key is already marked current");
        }
        marked = keys.size();
      }
    }
    keys.push_back(Key{std::move(id), std::move(key)});
  }
  if (keys.empty()) return InvalidField("keys", "must hold at least one key");
  const size_t current = marked.value_or(keys.size() - 1);
  return SigningKeyRing(std::move(keys), current);
}

absl::StatusOr<SigningKeyRing> SigningKeyRing::Load(const std::string& path) {
  RETURN_IF_ERROR(CheckSecretFileMode("receipts.keyring_file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("receipt keyring file ", path, ": cannot be read"));
  }
  std::stringstream text;
  text << in.rdbuf();
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto ring = Parse(text.str(), dir);
  if (!ring.ok()) {
    return absl::Status(ring.status().code(),
                        absl::StrCat("receipt keyring file ", path, ": ", ring.status().message()));
  }
  return ring;
}

std::string SigningKeyRing::JwksJson() const {
  nlohmann::json keys = nlohmann::json::array();
  for (const Key& key : keys_) {
    keys.push_back({{"kty", "OKP"},
                    {"crv", "Ed25519"},
                    {"kid", key.id},
                    {"x", Base64UrlEncode(key.key.PublicBytes())},
                    {"use", "sig"},
                    {"alg", "EdDSA"}});
  }
  return nlohmann::json{{"keys", keys}}.dump();
}

absl::StatusOr<Jwks> Jwks::Parse(std::string_view json) {
  nlohmann::json root = nlohmann::json::parse(json, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return InvalidField("jwks", "is not a JSON object");
  auto keys = root.find("keys");
  if (keys == root.end() || !keys->is_array()) return InvalidField("keys", "must be an array");
  Jwks out;
  for (size_t i = 0; i < keys->size(); ++i) {
    const nlohmann::json& key = (*keys)[i];
    const std::string field = absl::StrCat("keys[", i, "]");
    if (!key.is_object()) return InvalidField(field, "must be an object");
    auto text = [&](const char* name) -> std::string {
      auto it = key.find(name);
      return it != key.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    if (text("kty") != "OKP" || text("crv") != "Ed25519") continue;
    const std::string kid = text("kid");
    if (kid.empty()) return InvalidField(field + ".kid", "is required");
    std::string x;
    if (!Base64UrlDecode(text("x"), &x) || x.size() != kEd25519KeyBytes) {
      return InvalidField(field + ".x", "must be base64url of 32 bytes");
    }
    ASSIGN_OR_RETURN(Ed25519Key public_key, Ed25519Key::FromPublicBytes(x));
    out.keys_.emplace_back(kid, std::move(public_key));
  }
  return out;
}

const Ed25519Key* Jwks::Find(std::string_view kid) const {
  for (const auto& [id, key] : keys_) {
    if (id == kid) return &key;
  }
  return nullptr;
}

}  // namespace assent::crypto
