#include "receipts/verify.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "crypto/jws.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"
#include "receipts/merkle.h"
#include "receipts/signer.h"

namespace assent::receipts {
namespace {

using nlohmann::json;

std::string Text(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

absl::StatusOr<VerifiedReceipt> VerifyReceipt(const v1::Receipt& receipt,
                                              const crypto::Jwks& jwks) {
  ASSIGN_OR_RETURN(crypto::ParsedJws jws,
                   crypto::ParseCompactJws("batch_jws", receipt.batch_jws()));
  if (jws.typ != kBatchType) {
    return InvalidField("batch_jws", absl::StrCat("header typ must be \"", Sv(kBatchType), "\""));
  }
  if (jws.kid != receipt.kid()) {
    return absl::PermissionDeniedError("receipt: kid differs from the batch signature's kid");
  }
  const crypto::Ed25519Key* key = jwks.Find(jws.kid);
  if (key == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("receipt: key \"", jws.kid, "\" is not in the JWKS"));
  }
  RETURN_IF_ERROR(crypto::VerifyParsedJws(jws, *key));
  const json payload = json::parse(jws.payload, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) {
    return InvalidField("batch_jws", "payload is not a JSON object");
  }
  std::string root;
  if (!crypto::Base64UrlDecode(Text(payload, "root"), &root) || root.size() != 32) {
    return InvalidField("batch_jws", "payload root must be base64url of 32 bytes");
  }
  for (int i = 0; i < receipt.proof_size(); ++i) {
    if (receipt.proof(i).sibling().size() != 32) {
      return InvalidField(absl::StrCat("proof[", i, "].sibling"), "must be 32 bytes");
    }
  }
  if (RootFromProof(LeafHash(receipt.claims()), receipt.proof()) != root) {
    return absl::PermissionDeniedError(
        "receipt: the claims and proof do not lead to the signed root (tampered)");
  }
  const json claims = json::parse(receipt.claims(), nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) {
    return InvalidField("claims", "is not a JSON object");
  }
  VerifiedReceipt out;
  out.kid = jws.kid;
  if (auto it = payload.find("iat"); it != payload.end() && it->is_number_integer()) {
    out.signed_at = it->get<int64_t>();
  }
  if (auto it = payload.find("leaves"); it != payload.end() && it->is_number_unsigned()) {
    out.batch_leaves = it->get<uint64_t>();
  }
  out.tenant = Text(claims, "tenant");
  if (auto it = claims.find("target"); it != claims.end() && it->is_object()) {
    if (it->contains("subject_id")) {
      out.target = absl::StrCat("subject:", Text(*it, "subject_id"));
    } else if (auto c = it->find("contact"); c != it->end() && c->is_object()) {
      out.target = absl::StrCat("contact:", Text(*c, "type"), ":", Text(*c, "hash"));
    }
  }
  if (auto it = claims.find("sequence"); it != claims.end() && it->is_number_unsigned()) {
    out.sequence = it->get<uint64_t>();
  }
  out.kind = Text(claims, "kind");
  out.hash = Text(claims, "hash");
  return out;
}

std::string ReceiptToJson(const v1::Receipt& receipt) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  // Cannot fail for a generated message; an empty text would fail to verify anyway.
  if (!google::protobuf::util::MessageToJsonString(receipt, &out, options).ok()) out.clear();
  return out;
}

absl::StatusOr<v1::Receipt> ReceiptFromJson(std::string_view json_text) {
  v1::Receipt receipt;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json_text), &receipt).ok()) {
    return InvalidField("receipt", "is not a receipt in JSON (assentctl receipt get writes one)");
  }
  return receipt;
}

}  // namespace assent::receipts
