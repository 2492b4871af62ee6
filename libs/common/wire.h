// Protobuf wire-format helpers: deterministic serialization (for hashing), and building a
// message's bytes from bytes already serialized, so a hot path can serialize a large sub-message
// once and reuse it (a message's fields may appear on the wire in any order; parsers accept them
// all).
#pragma once

#include <string>
#include <string_view>

#include "google/protobuf/message_lite.h"

namespace assent {

// The deterministic serialization of `message` (map entries sorted, fields in number order):
// stable for a given schema, which is what hashes and digests of messages need.
std::string SerializeDeterministic(const google::protobuf::MessageLite& message);

// Appends a length-delimited field (a sub-message, string or bytes): tag, length, `bytes`.
void AppendMessageField(std::string& out, int field_number, std::string_view bytes);

}  // namespace assent
