// Which Kafka partition a key belongs to: Kafka's murmur2 partitioner (the Java client's default
// and librdkafka's "murmur2"/"murmur2_random" for non-empty keys), so that consentd's partition
// owners, the events topics written by any producer and the senders agree on a target's partition.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace assent::cluster {

// Kafka's murmur2 hash of `key` (org.apache.kafka.common.utils.Utils.murmur2).
uint32_t Murmur2(std::string_view key);
// The partition of `key` among `partitions` (> 0): (murmur2 & 0x7fffffff) % partitions.
int32_t PartitionOf(std::string_view key, int32_t partitions);
// A route key in `partition` of `partitions`: "partition/<n>" for the smallest n whose key is
// there (the same on every instance). Pins a write about a partition rather than a target to it.
// Empty when `partition` is not in [0, partitions).
std::string PartitionRouteKey(int32_t partition, int32_t partitions);

}  // namespace assent::cluster
