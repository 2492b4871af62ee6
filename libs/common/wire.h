// Protobuf wire-format helpers for building a message's bytes from bytes already serialized, so a
// hot path can serialize a large sub-message once and reuse it (a message's fields may appear on
// the wire in any order; parsers accept them all).
#pragma once

#include <string>
#include <string_view>

namespace assent {

// Appends a length-delimited field (a sub-message, string or bytes): tag, length, `bytes`.
void AppendMessageField(std::string& out, int field_number, std::string_view bytes);

}  // namespace assent
