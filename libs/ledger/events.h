// Turns a committed change into the Kafka records the outbox relay publishes: one ConsentChanged
// on the changes topic and the full state on the compacted state topic, both keyed
// "tenant/subject" or "tenant/c:<type>:<hash>" so that one target's events stay in one partition.
#pragma once

#include <string>
#include <vector>

#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/events.pb.h"
#include "assent/v1/types.pb.h"

namespace assent::ledger {

// The Kafka key of a target's events.
std::string EventKey(std::string_view tenant, const v1::TargetRef& target);

// The change event for `record` with the target's state after it.
v1::ConsentChanged BuildChangeEvent(const v1::HistoryRecord& record,
                                    const v1::TargetStateSnapshot& state_after);

// The two outbox records (changes, then state) for a change.
std::vector<storage::v1::OutboxRecord> BuildOutboxRecords(
    const v1::HistoryRecord& record, const v1::TargetStateSnapshot& state_after);

}  // namespace assent::ledger
