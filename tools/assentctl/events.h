// `assentctl events tail`: reads Assent's Kafka topics and prints each event as one line of JSON,
// so a person (or a script) can watch consent changes flow.
#pragma once

#include "absl/status/statusor.h"
#include "assentctl/flags.h"
#include "assentctl/session.h"

namespace assent::ctl {

// Flags: --brokers HOST:PORT (default 127.0.0.1:9092),
// --topic-prefix (default "assent."), --state-topic (the compacted state topic instead of changes),
// --from-beginning (default: only new events), --count N (stop after N events),
// --idle-exit DURATION (stop when nothing arrives for that long). Returns exit status 0.
// Each line: {"topic":..,"partition":..,"offset":..,"key":..,"event":<ConsentChanged or
// TargetStateSnapshot as proto3 JSON, null for a tombstone>}.
absl::StatusOr<int> EventsTail(Session& session, const Args& args);

// The JSON line for one Kafka record (exposed for tests). `value` empty with `tombstone` true
// prints "event":null. INVALID_ARGUMENT when the value does not decode.
absl::StatusOr<std::string> EventLine(std::string_view topic, int partition, int64_t offset,
                                      std::string_view key, std::string_view value, bool tombstone,
                                      bool state_topic);

}  // namespace assent::ctl
