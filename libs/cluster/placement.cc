#include "cluster/placement.h"

#include <algorithm>
#include <utility>

namespace assent::cluster {
namespace {

void SortByMemberId(std::vector<GroupMember>& members) {
  std::sort(members.begin(), members.end(),
            [](const GroupMember& a, const GroupMember& b) { return a.member_id < b.member_id; });
}

// The node that owns `partition` when the members whose indexes `gone` lists are not in the
// group (nullptr when none is left).
const std::string* OwnerWithout(const std::vector<GroupMember>& members,
                                const std::vector<int>& gone, int32_t partition,
                                int32_t partitions) {
  std::vector<const GroupMember*> left;
  for (size_t i = 0; i < members.size(); ++i) {
    if (std::find(gone.begin(), gone.end(), static_cast<int>(i)) == gone.end()) {
      left.push_back(&members[i]);
    }
  }
  if (left.empty()) return nullptr;
  return &left[RangeOwner(partition, partitions, static_cast<int>(left.size()))]->node_id;
}

// The node that owns `partition` when a member joins at position `at` (0..members.size()) of the
// order; nullptr when the newcomer would.
const std::string* OwnerWithNewcomerAt(const std::vector<GroupMember>& members, size_t at,
                                       int32_t partition, int32_t partitions) {
  const int index = RangeOwner(partition, partitions, static_cast<int>(members.size()) + 1);
  if (static_cast<size_t>(index) == at) return nullptr;
  return &members[static_cast<size_t>(index) < at ? index : index - 1].node_id;
}

}  // namespace

int RangeOwner(int32_t partition, int32_t partitions, int members) {
  const int32_t per = partitions / members;
  const int32_t extra = partitions % members;
  const int32_t in_longer = extra * (per + 1);  // the partitions of the members with one more
  if (partition < in_longer) return partition / (per + 1);
  return extra + (partition - in_longer) / per;
}

std::vector<PartitionPlacement> PlaceStandbys(std::vector<GroupMember> members, int32_t partitions,
                                              int standbys) {
  std::vector<PartitionPlacement> out;
  if (members.empty() || partitions <= 0) return out;
  SortByMemberId(members);
  const int n = static_cast<int>(members.size());
  const size_t wanted = static_cast<size_t>(std::clamp(standbys, 0, n - 1));
  out.resize(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    PartitionPlacement& placement = out[p];
    const int owner = RangeOwner(p, partitions, n);
    placement.owner = members[owner].node_id;
    auto add = [&](const std::string* node) {
      if (node == nullptr || placement.standbys.size() >= wanted || *node == placement.owner)
        return;
      if (std::find(placement.standbys.begin(), placement.standbys.end(), *node) ==
          placement.standbys.end()) {
        placement.standbys.push_back(*node);
      }
    };
    // 1. The owner leaves (a crash: the failover).
    add(OwnerWithout(members, {owner}, p, partitions));
    // 2. Any other single member leaves (the ranges shift among the survivors).
    for (int i = 0; i < n; ++i) {
      if (i != owner) add(OwnerWithout(members, {i}, p, partitions));
    }
    // 3. A member joins between two others.
    for (size_t at = 0; at <= members.size(); ++at) {
      add(OwnerWithNewcomerAt(members, at, p, partitions));
    }
    // 4. Two members leave, the owner among them first (a second failure during a failover).
    for (int i = 0; i < n; ++i) {
      for (int j = i + 1; j < n; ++j) {
        if (i == owner || j == owner) add(OwnerWithout(members, {i, j}, p, partitions));
      }
    }
    for (int i = 0; i < n; ++i) {
      for (int j = i + 1; j < n; ++j) add(OwnerWithout(members, {i, j}, p, partitions));
    }
    // Whoever is left, in the assignor's order (more standbys than any of those moves reaches).
    for (int i = 0; i < n; ++i) add(&members[i].node_id);
  }
  return out;
}

std::vector<int32_t> PartitionsAfterJoin(std::vector<GroupMember> members,
                                         const std::string& member_id_prefix, int32_t partitions) {
  SortByMemberId(members);
  // The broker appends a UUID to the prefix; members whose ids sort before the prefix sort before
  // the newcomer's id too (unless one's id extends the prefix itself: a node id that is a prefix of
  // another's followed by '-', where the guess may be one place off and only costs a replay).
  const size_t at =
      static_cast<size_t>(std::lower_bound(members.begin(), members.end(), member_id_prefix,
                                           [](const GroupMember& m, const std::string& id) {
                                             return m.member_id < id;
                                           }) -
                          members.begin());
  std::vector<int32_t> out;
  const int n = static_cast<int>(members.size()) + 1;
  for (int32_t p = 0; p < partitions; ++p) {
    if (static_cast<size_t>(RangeOwner(p, partitions, n)) == at) out.push_back(p);
  }
  return out;
}

}  // namespace assent::cluster
