#include "receipts/merkle.h"

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/strings.h"

namespace assent::receipts {

std::string LeafHash(std::string_view claims) {
  std::string input(1, '\x00');
  input.append(claims);
  return Sha256(input);
}

std::string NodeHash(std::string_view left, std::string_view right) {
  return Sha256(absl::StrCat("\x01", Sv(left), Sv(right)));
}

MerkleTree BuildMerkleTree(const std::vector<std::string>& leaves) {
  MerkleTree tree;
  tree.proofs.resize(leaves.size());
  std::vector<std::string> level = leaves;
  // position[i]: where leaf i's ancestor sits in the current level.
  std::vector<size_t> position(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) position[i] = i;
  while (level.size() > 1) {
    for (size_t i = 0; i < leaves.size(); ++i) {
      const size_t p = position[i];
      const size_t sibling = p ^ 1;
      if (sibling < level.size()) {
        v1::ReceiptProofStep step;
        step.set_sibling(level[sibling]);
        step.set_sibling_left(sibling < p);
        tree.proofs[i].push_back(std::move(step));
      }
      position[i] = p / 2;
    }
    std::vector<std::string> next;
    next.reserve((level.size() + 1) / 2);
    for (size_t p = 0; p + 1 < level.size(); p += 2)
      next.push_back(NodeHash(level[p], level[p + 1]));
    if (level.size() % 2 == 1) next.push_back(std::move(level.back()));
    level = std::move(next);
  }
  if (!level.empty()) tree.root = std::move(level[0]);
  return tree;
}

std::string RootFromProof(std::string_view leaf,
                          const google::protobuf::RepeatedPtrField<v1::ReceiptProofStep>& proof) {
  std::string node(leaf);
  for (const v1::ReceiptProofStep& step : proof) {
    node = step.sibling_left() ? NodeHash(step.sibling(), node) : NodeHash(node, step.sibling());
  }
  return node;
}

}  // namespace assent::receipts
