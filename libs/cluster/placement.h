// Where each partition is kept when cluster.standbys limits the copies: its owner and its standbys.
//
// Ownership comes from the consumer group's eager range assignor (librdkafka 2.0.2's
// rd_kafka_range_assignor_assign_cb): the members in lexicographic order of their member ids,
// the partitions in numeric order, member i gets a contiguous range and the first P % M members
// one partition more. The assignor knows nothing of standbys, so the standbys are chosen to be
// the instances it will hand a partition to next: first the one that gets it when its owner
// leaves (a crash: the failover), then the ones that get it when any other single instance
// leaves (the ranges shift among the survivors), then when an instance joins between two others,
// then after two departures. A takeover by an instance that keeps the partition in full only
// replays the records it has not applied yet; one by any other instance replays the partition from
// where that instance last kept it (from the beginning if it never did) before it takes writes.
//
// Pure functions: no Kafka here (node.cc feeds them the group's description).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace assent::cluster {

// A member of the consumer group as DescribeConsumerGroups lists it.
struct GroupMember {
  std::string member_id;  // the broker's id of the member ("consentd-<node>-<uuid>")
  std::string node_id;    // the instance (its client id less "consentd-")
};

// The index, among `members` (> 0) in the range assignor's order, of the owner of `partition`
// (0 <= partition < partitions).
int RangeOwner(int32_t partition, int32_t partitions, int members);

struct PartitionPlacement {
  std::string owner;                  // node id
  std::vector<std::string> standbys;  // node ids, the likeliest next owner first
};

// Each partition's owner and up to `standbys` standbys (fewer when there are fewer other members;
// every other member when `standbys` is at least members - 1), for the group `members` (any
// order: sorted here by member id, as the assignor does). Empty when `members` is.
std::vector<PartitionPlacement> PlaceStandbys(std::vector<GroupMember> members, int32_t partitions,
                                              int standbys);

// The partitions an instance not yet in the group, whose member ids will start with
// `member_id_prefix` ("consentd-<node>-"), will own once it joins `members`: what it replays before
// it joins, so that the partitions it takes are current when they move to it.
std::vector<int32_t> PartitionsAfterJoin(std::vector<GroupMember> members,
                                         const std::string& member_id_prefix, int32_t partitions);

}  // namespace assent::cluster
