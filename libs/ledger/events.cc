#include "ledger/events.h"

#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "common/wire.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

void AddHeaders(storage::v1::OutboxRecord& out, std::string_view type) {
  auto* h = out.add_headers();
  h->set_key("content-type");
  h->set_value("application/x-protobuf");
  h = out.add_headers();
  h->set_key("message-type");
  h->set_value(std::string(type));
}

}  // namespace

std::string EventKey(std::string_view tenant, const v1::TargetRef& target) {
  std::string key(tenant);
  key.push_back('/');
  key.append(target.has_contact() ? store::EntityName(target) : target.subject_id());
  return key;
}

v1::ConsentChanged BuildChangeEvent(const v1::HistoryRecord& record) {
  v1::ConsentChanged event;
  const std::string key = EventKey(record.tenant(), record.target());
  event.set_event_id(absl::StrCat(key, "/", record.sequence()));
  event.set_tenant(record.tenant());
  *event.mutable_target() = record.target();
  event.set_sequence(record.sequence());
  event.set_kind(record.kind());
  *event.mutable_effective_time() = record.effective_time();
  *event.mutable_recorded_time() = record.recorded_time();
  *event.mutable_decisions() = record.decisions();
  event.set_actor(record.actor());
  event.set_on_behalf_of(record.on_behalf_of());
  event.set_source(record.source());
  event.set_history_hash(record.hash());
  return event;
}

std::vector<storage::v1::OutboxRecord> BuildOutboxRecords(const v1::HistoryRecord& record,
                                                          std::string_view snapshot_after) {
  const std::string key = EventKey(record.tenant(), record.target());
  std::vector<storage::v1::OutboxRecord> out(2);
  out[0].set_topic(storage::v1::TOPIC_CHANGES);
  out[0].set_key(key);
  std::string* change = out[0].mutable_value();
  BuildChangeEvent(record).AppendToString(change);
  AppendMessageField(*change, v1::ConsentChanged::kStateFieldNumber, snapshot_after);
  *out[0].mutable_create_time() = record.recorded_time();
  AddHeaders(out[0], "assent.v1.ConsentChanged");
  out[1].set_topic(storage::v1::TOPIC_STATE);
  out[1].set_key(key);
  out[1].set_value(std::string(snapshot_after));
  *out[1].mutable_create_time() = record.recorded_time();
  AddHeaders(out[1], "assent.v1.TargetStateSnapshot");
  return out;
}

std::vector<storage::v1::OutboxRecord> BuildErasureRecords(const v1::HistoryRecord& record) {
  const std::string key = EventKey(record.tenant(), record.target());
  std::vector<storage::v1::OutboxRecord> out(2);
  out[0].set_topic(storage::v1::TOPIC_CHANGES);
  out[0].set_key(key);
  BuildChangeEvent(record).SerializeToString(out[0].mutable_value());
  *out[0].mutable_create_time() = record.recorded_time();
  AddHeaders(out[0], "assent.v1.ConsentChanged");
  out[1].set_topic(storage::v1::TOPIC_STATE);
  out[1].set_key(key);
  out[1].set_tombstone(true);
  *out[1].mutable_create_time() = record.recorded_time();
  return out;
}

storage::v1::OutboxRecord BuildNoticeRecord(std::string_view tenant, const v1::TargetRef& target,
                                            const google::protobuf::Message& notice,
                                            absl::Time created) {
  storage::v1::OutboxRecord out;
  out.set_topic(storage::v1::TOPIC_LIFECYCLE);
  out.set_key(EventKey(tenant, target));
  notice.SerializeToString(out.mutable_value());
  *out.mutable_create_time() = ToProto(created);
  AddHeaders(out, notice.GetDescriptor()->full_name());
  return out;
}

std::string SnapshotBytes(const v1::SubjectState&, std::string_view state_bytes) {
  std::string out;
  AppendMessageField(out, v1::TargetStateSnapshot::kSubjectFieldNumber, state_bytes);
  return out;
}

std::string SnapshotBytes(const v1::ContactPointState&, std::string_view state_bytes) {
  std::string out;
  AppendMessageField(out, v1::TargetStateSnapshot::kContactFieldNumber, state_bytes);
  return out;
}

}  // namespace assent::ledger
