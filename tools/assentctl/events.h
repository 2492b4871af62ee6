// `assentctl events tail`: reads Assent's Kafka topics and prints each event as one line of JSON,
// so a person (or a script) can watch consent changes flow.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "assentctl/flags.h"
#include "assentctl/session.h"

namespace assent::ctl {

// Flags: --brokers HOST:PORT (default 127.0.0.1:9092),
// --kafka-config FILE (librdkafka properties: key=value lines, '#' comments; default
// $ASSENT_KAFKA_CONFIG), -X KEY=VALUE (one librdkafka property, repeatable, overrides the file),
// --topic-prefix (default "assent."), --state-topic (the compacted state topic instead of changes),
// --from-beginning (default: only new events), --count N (stop after N events),
// --idle-exit DURATION (stop when nothing arrives for that long). The topic's metadata must arrive
// within --timeout. Returns exit status 0. A setting librdkafka refuses is named with where it came
// from; secret values (IsSecretSetting) never appear in errors.
// Each line: {"topic":..,"partition":..,"offset":..,"key":..,"event":<ConsentChanged or
// TargetStateSnapshot as proto3 JSON, null for a tombstone>}.
absl::StatusOr<int> EventsTail(Session& session, const Args& args);

// One librdkafka setting of `events tail` and where it came from ("-X", "--kafka-config FILE").
struct TailSetting {
  std::string value;
  std::string origin;
};

// The librdkafka settings `events tail` connects with, later ones winning: the properties file
// (--kafka-config, else `options.kafka_config` from $ASSENT_KAFKA_CONFIG), each -X in order, then
// --brokers as bootstrap.servers (127.0.0.1:9092 when nothing sets it). INVALID_ARGUMENT naming
// the flag for a -X that is not KEY=VALUE or a file that cannot be read or parsed.
absl::StatusOr<std::map<std::string, TailSetting>> TailKafkaSettings(const Args& args,
                                                                     const GlobalOptions& options);

// The JSON line for one Kafka record (exposed for tests). `value` empty with `tombstone` true
// prints "event":null. INVALID_ARGUMENT when the value does not decode.
absl::StatusOr<std::string> EventLine(std::string_view topic, int partition, int64_t offset,
                                      std::string_view key, std::string_view value, bool tombstone,
                                      bool state_topic);

}  // namespace assent::ctl
