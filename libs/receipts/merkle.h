// The Merkle tree that lets one signature cover a batch of receipts. Leaves and inner nodes are
// hashed with different prefixes (RFC 6962 style), so a leaf can never pose as a node:
//   leaf = SHA-256(0x00 || claims)      node = SHA-256(0x01 || left || right)
// Each level pairs nodes left to right; an odd last node moves up unchanged. Pure, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "assent/v1/receipts.pb.h"

namespace assent::receipts {

std::string LeafHash(std::string_view claims);
std::string NodeHash(std::string_view left, std::string_view right);

struct MerkleTree {
  std::string root;
  // proofs[i]: the inclusion proof of leaf i, from the leaf up.
  std::vector<std::vector<v1::ReceiptProofStep>> proofs;
};
// The tree over `leaves` (leaf hashes; at least one).
MerkleTree BuildMerkleTree(const std::vector<std::string>& leaves);

// The root reached from `leaf` by walking `proof`.
std::string RootFromProof(std::string_view leaf,
                          const google::protobuf::RepeatedPtrField<v1::ReceiptProofStep>& proof);

}  // namespace assent::receipts
