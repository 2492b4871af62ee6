#include "core/check_state.h"

#include <cstdint>
#include <type_traits>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace assent::core {
namespace {

using WireFormatLite = google::protobuf::internal::WireFormatLite;

// The protobuf wire format over a byte range, just what this decoder needs. Written out here
// rather than using CodedInputStream because its calls (limits, skips, varint fallbacks) are not
// inlined from the shared library and cost more than the decoding itself.
class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool AtEnd() const { return p_ == end_; }

  // A varint of up to 10 bytes, as the protobuf parser accepts it.
  bool ReadVarint(uint64_t* value) {
    if (p_ < end_ && *p_ < 0x80) {  // most tags, enums and small numbers
      *value = *p_++;
      return true;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t byte = *p_++;
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (byte < 0x80) {
        *value = result;
        return true;
      }
    }
    return false;
  }

  // A field tag; false for field number 0 or a wire type that does not exist.
  bool ReadTag(uint32_t* tag) {
    uint64_t value = 0;
    if (!ReadVarint(&value) || value > UINT32_MAX || (value >> 3) == 0 || (value & 7) > 5) {
      return false;
    }
    *tag = static_cast<uint32_t>(value);
    return true;
  }

  // The bytes of a length-delimited field (a string or a sub-message), without copying.
  bool ReadBytes(std::string_view* bytes) {
    uint64_t length = 0;
    if (!ReadVarint(&length) || length > static_cast<uint64_t>(end_ - p_)) return false;
    *bytes = std::string_view(reinterpret_cast<const char*>(p_), length);
    p_ += length;
    return true;
  }

  bool ReadString(std::string* out) {
    std::string_view bytes;
    if (!ReadBytes(&bytes)) return false;
    out->assign(bytes.data(), bytes.size());
    return true;
  }

  // Skips the value of a field not kept. A group (deprecated, never written by proto3) is skipped
  // up to its end tag, nested ones included, to the depth the protobuf parser allows.
  bool Skip(uint32_t tag, int depth = 0) {
    switch (WireFormatLite::GetTagWireType(tag)) {
      case WireFormatLite::WIRETYPE_VARINT: {
        uint64_t ignored = 0;
        return ReadVarint(&ignored);
      }
      case WireFormatLite::WIRETYPE_FIXED64:
        return Advance(8);
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        std::string_view ignored;
        return ReadBytes(&ignored);
      }
      case WireFormatLite::WIRETYPE_START_GROUP: {
        if (depth >= kMaxGroupDepth) return false;
        const uint32_t end_tag = WireFormatLite::MakeTag(WireFormatLite::GetTagFieldNumber(tag),
                                                         WireFormatLite::WIRETYPE_END_GROUP);
        uint32_t inner = 0;
        while (ReadTag(&inner)) {
          if (inner == end_tag) return true;
          if (!Skip(inner, depth + 1)) return false;
        }
        return false;
      }
      case WireFormatLite::WIRETYPE_FIXED32:
        return Advance(4);
      default:  // an end-group tag outside its group
        return false;
    }
  }

 private:
  static constexpr int kMaxGroupDepth = 100;

  bool Advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }

  const uint8_t* p_;
  const uint8_t* end_;
};

// A field's tag: field number and wire type. A kept field that arrives with another wire type is
// an unknown field to the generated parser too, so it falls to `default` and is skipped like one.
constexpr uint32_t Varint(int field) {
  return WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_VARINT);
}
constexpr uint32_t Bytes(int field) {
  return WireFormatLite::MakeTag(field, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

// Reads every field of one message: `field(in, tag)` reads the value of a field it keeps, or
// skips it (in.Skip(tag)), and returns false on malformed input.
template <typename Field>
bool ReadFields(std::string_view bytes, Field&& field) {
  WireReader in(bytes);
  while (!in.AtEnd()) {
    uint32_t tag = 0;
    if (!in.ReadTag(&tag) || !field(in, tag)) return false;
  }
  return true;
}

// Reads a varint field and stores it with `set`, a generated setter, converting as the protobuf
// parser does (integers truncate, enums keep unknown values: proto3 enums are open).
template <typename T, typename Message>
bool ReadInto(WireReader& in, Message& message, void (Message::*set)(T)) {
  uint64_t value = 0;
  if (!in.ReadVarint(&value)) return false;
  if constexpr (std::is_enum_v<T>) {
    (message.*set)(static_cast<T>(static_cast<int32_t>(value)));
  } else {
    (message.*set)(static_cast<T>(value));
  }
  return true;
}

// Reads a sub-message's bytes and decodes them with `read(bytes)`.
template <typename Read>
bool ReadNested(WireReader& in, Read&& read) {
  std::string_view bytes;
  return in.ReadBytes(&bytes) && read(bytes);
}

// A small, rare sub-message kept whole (quiet hours, frequency caps, a contact reference): its
// generated parser.
template <typename Message>
bool ReadWhole(WireReader& in, Message* message) {
  return ReadNested(in, [message](std::string_view bytes) {
    google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                  static_cast<int>(bytes.size()));
    return message->MergePartialFromCodedStream(&stream) && stream.ConsumedEntireMessage();
  });
}

// A repeated enum, packed (the proto3 default) or one value per tag.
template <typename Add>
bool ReadRepeatedEnum(WireReader& in, uint32_t tag, Add&& add) {
  uint64_t value = 0;
  if (WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
    if (!in.ReadVarint(&value)) return false;
    add(static_cast<int32_t>(value));
    return true;
  }
  return ReadNested(in, [&](std::string_view bytes) {
    WireReader packed(bytes);
    while (!packed.AtEnd()) {
      if (!packed.ReadVarint(&value)) return false;
      add(static_cast<int32_t>(value));
    }
    return true;
  });
}

bool ReadTimestamp(WireReader& in, google::protobuf::Timestamp* ts) {
  using T = google::protobuf::Timestamp;
  return ReadNested(in, [ts](std::string_view bytes) {
    return ReadFields(bytes, [ts](WireReader& sub, uint32_t tag) {
      switch (tag) {
        case Varint(T::kSecondsFieldNumber):
          return ReadInto(sub, *ts, &T::set_seconds);
        case Varint(T::kNanosFieldNumber):
          return ReadInto(sub, *ts, &T::set_nanos);
        default:
          return sub.Skip(tag);
      }
    });
  });
}

bool ReadRecord(WireReader& in, v1::ConsentRecord* r) {
  using R = v1::ConsentRecord;
  // Of the evidence only the notice version is kept, and the evidence only when it is non-zero.
  uint32_t notice = 0;
  const bool ok = ReadNested(in, [&](std::string_view bytes) {
    return ReadFields(bytes, [&](WireReader& sub, uint32_t tag) {
      switch (tag) {
        case Bytes(R::kRecordIdFieldNumber):
          return sub.ReadString(r->mutable_record_id());
        case Bytes(R::kPurposeIdFieldNumber):
          return sub.ReadString(r->mutable_purpose_id());
        case Varint(R::kChannelFieldNumber):
          return ReadInto(sub, *r, &R::set_channel);
        case Bytes(R::kTopicFieldNumber):
          return sub.ReadString(r->mutable_topic());
        case Varint(R::kStateFieldNumber):
          return ReadInto(sub, *r, &R::set_state);
        case Bytes(R::kEffectiveTimeFieldNumber):
          return ReadTimestamp(sub, r->mutable_effective_time());
        case Bytes(R::kExpireTimeFieldNumber):
          return ReadTimestamp(sub, r->mutable_expire_time());
        case Bytes(R::kEvidenceFieldNumber):
          return ReadNested(sub, [&](std::string_view evidence) {
            return ReadFields(evidence, [&](WireReader& fields, uint32_t evidence_tag) {
              if (evidence_tag != Varint(v1::Evidence::kNoticeVersionFieldNumber)) {
                return fields.Skip(evidence_tag);
              }
              uint64_t value = 0;
              if (!fields.ReadVarint(&value)) return false;
              notice = static_cast<uint32_t>(value);
              return true;
            });
          });
        case Varint(R::kSequenceFieldNumber):
          return ReadInto(sub, *r, &R::set_sequence);
        default:
          return sub.Skip(tag);
      }
    });
  });
  if (notice != 0) r->mutable_evidence()->set_notice_version(notice);
  return ok;
}

bool ReadPreferences(WireReader& in, v1::Preferences* p) {
  using P = v1::Preferences;
  return ReadNested(in, [p](std::string_view bytes) {
    return ReadFields(bytes, [p](WireReader& sub, uint32_t tag) {
      switch (tag) {
        case Bytes(P::kQuietHoursFieldNumber):
          return ReadWhole(sub, p->mutable_quiet_hours());
        case Bytes(P::kFrequencyCapsFieldNumber):
          return ReadWhole(sub, p->add_frequency_caps());
        case Varint(P::kPreferredChannelFieldNumber):
          return ReadInto(sub, *p, &P::set_preferred_channel);
        case Varint(P::kGlobalOptOutChannelsFieldNumber):
        case Bytes(P::kGlobalOptOutChannelsFieldNumber):
          return ReadRepeatedEnum(sub, tag, [p](int32_t value) {
            p->add_global_opt_out_channels(static_cast<v1::Channel>(value));
          });
        case Bytes(P::kJurisdictionFieldNumber):
          return sub.ReadString(p->mutable_jurisdiction());
        default:
          return sub.Skip(tag);
      }
    });
  });
}

bool ReadSuppression(WireReader& in, v1::Suppression* s) {
  using S = v1::Suppression;
  return ReadNested(in, [s](std::string_view bytes) {
    return ReadFields(bytes, [s](WireReader& sub, uint32_t tag) {
      switch (tag) {
        case Varint(S::kChannelFieldNumber):
          return ReadInto(sub, *s, &S::set_channel);
        case Varint(S::kKindFieldNumber):
          return ReadInto(sub, *s, &S::set_kind);
        case Bytes(S::kRecordIdFieldNumber):
          return sub.ReadString(s->mutable_record_id());
        case Varint(S::kSequenceFieldNumber):
          return ReadInto(sub, *s, &S::set_sequence);
        default:
          return sub.Skip(tag);
      }
    });
  });
}

}  // namespace

bool ParseForCheck(std::string_view bytes, v1::SubjectState& out) {
  using S = v1::SubjectState;
  out.Clear();
  return ReadFields(bytes, [&out](WireReader& in, uint32_t tag) {
    switch (tag) {
      case Bytes(S::kSubjectIdFieldNumber):
        return in.ReadString(out.mutable_subject_id());
      case Varint(S::kSequenceFieldNumber):
        return ReadInto(in, out, &S::set_sequence);
      case Bytes(S::kDecisionsFieldNumber):
        return ReadRecord(in, out.add_decisions());
      case Bytes(S::kPreferencesFieldNumber):
        return ReadPreferences(in, out.mutable_preferences());
      case Varint(S::kGpcOptOutFieldNumber):
        return ReadInto(in, out, &S::set_gpc_opt_out);
      case Bytes(S::kGpcRecordIdFieldNumber):
        return in.ReadString(out.mutable_gpc_record_id());
      case Bytes(S::kLastJurisdictionFieldNumber):
        return in.ReadString(out.mutable_last_jurisdiction());
      default:
        return in.Skip(tag);
    }
  });
}

bool ParseForCheck(std::string_view bytes, v1::ContactPointState& out) {
  using C = v1::ContactPointState;
  out.Clear();
  return ReadFields(bytes, [&out](WireReader& in, uint32_t tag) {
    switch (tag) {
      case Bytes(C::kContactFieldNumber):
        return ReadWhole(in, out.mutable_contact());
      case Varint(C::kSequenceFieldNumber):
        return ReadInto(in, out, &C::set_sequence);
      case Bytes(C::kLinkedSubjectIdFieldNumber):
        return in.ReadString(out.mutable_linked_subject_id());
      case Bytes(C::kDecisionsFieldNumber):
        return ReadRecord(in, out.add_decisions());
      case Bytes(C::kSuppressionsFieldNumber):
        return ReadSuppression(in, out.add_suppressions());
      default:
        return in.Skip(tag);
    }
  });
}

}  // namespace assent::core
