// Turns a committed change into the Kafka records the outbox relay publishes: one ConsentChanged
// on the changes topic and the full state on the compacted state topic, both keyed
// "tenant/subject" or "tenant/c:<type>:<hash>" so that one target's events stay in one partition.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "assent/storage/v1/storage.pb.h"
#include "assent/v1/events.pb.h"
#include "assent/v1/types.pb.h"
#include "google/protobuf/message.h"

namespace assent::ledger {

// The Kafka key of a target's events.
std::string EventKey(std::string_view tenant, const v1::TargetRef& target);

// The change event for `record`, without the target's state after it (BuildOutboxRecords
// appends that as bytes).
v1::ConsentChanged BuildChangeEvent(const v1::HistoryRecord& record);

// The two outbox records (changes, then state) for a change. `snapshot_after` is the serialized
// TargetStateSnapshot of the target after the change (see SnapshotBytes); it goes into both
// records as it is, without another serialization.
std::vector<storage::v1::OutboxRecord> BuildOutboxRecords(const v1::HistoryRecord& record,
                                                          std::string_view snapshot_after);
// The outbox records of an erasure: the ConsentChanged of the SUBJECT_ERASED record (no state)
// and a tombstone for the target's key on the state topic.
std::vector<storage::v1::OutboxRecord> BuildErasureRecords(const v1::HistoryRecord& record);
// The outbox record of a lifecycle notice (assent/v1/lifecycle.proto) about `target`, for the
// lifecycle topic: keyed like the target's changes, `message_type` its full name
// ("assent.v1.ConsentExpiring"), `created` its time.
storage::v1::OutboxRecord BuildNoticeRecord(std::string_view tenant, const v1::TargetRef& target,
                                            const google::protobuf::Message& notice,
                                            absl::Time created);

// The serialized TargetStateSnapshot holding a serialized SubjectState or ContactPointState.
std::string SnapshotBytes(const v1::SubjectState&, std::string_view state_bytes);
std::string SnapshotBytes(const v1::ContactPointState&, std::string_view state_bytes);

}  // namespace assent::ledger
