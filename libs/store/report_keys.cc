#include "store/report_keys.h"

#include <cstring>

#include "store/keys.h"

namespace assent::store {
namespace {

constexpr size_t kCountsBytes = 8 * kReportStates;
constexpr uint32_t kDayBias = 1u << 31;

void PutDay(std::string* out, int32_t day) {
  PutBigEndian32(out, static_cast<uint32_t>(static_cast<int64_t>(day) + kDayBias));
}

// Reads up to the next '\0' (consumed) into `out`; false when there is none.
bool TakeString(std::string_view& in, std::string_view* out) {
  const size_t end = in.find('\0');
  if (end == std::string_view::npos) return false;
  *out = in.substr(0, end);
  in.remove_prefix(end + 1);
  return true;
}

bool TakeDay(std::string_view& in, int32_t* day) {
  if (in.size() < 4) return false;
  *day = static_cast<int32_t>(static_cast<int64_t>(ReadBigEndian32(in)) - kDayBias);
  in.remove_prefix(4);
  return true;
}

bool TakeChannel(std::string_view& in, int* channel) {
  if (in.empty()) return false;
  *channel = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  return true;
}

// Adds a full value or a compact operand (CountsDelta) to `sum`; anything else counts as zero.
void Add(std::string_view bytes, ReportCounts& sum) {
  ReportCounts add;
  if (DecodeCounts(bytes, &add)) {
    for (int i = 0; i < kReportStates; ++i) sum.n[i] += add.n[i];
  } else if (bytes.size() == 2 && static_cast<uint8_t>(bytes[0]) < kReportStates) {
    sum.n[static_cast<uint8_t>(bytes[0])] += static_cast<int8_t>(bytes[1]);
  }
}

class ReportCountsMerge final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing,
             const rocksdb::Slice& value, std::string* new_value,
             rocksdb::Logger* /*logger*/) const override {
    // `existing` is the stored value or, when RocksDB combines operands, another operand.
    ReportCounts sum;
    if (existing != nullptr) Add(std::string_view(existing->data(), existing->size()), sum);
    Add(std::string_view(value.data(), value.size()), sum);
    *new_value = EncodeCounts(sum);
    return true;
  }
  const char* Name() const override { return "assent.ReportCountsMerge"; }
};

}  // namespace

std::string EncodeCounts(const ReportCounts& counts) {
  std::string out(kCountsBytes, '\0');
  for (int i = 0; i < kReportStates; ++i) {
    const uint64_t v = static_cast<uint64_t>(counts.n[i]);
    for (int b = 0; b < 8; ++b) out[8 * i + b] = static_cast<char>((v >> (8 * b)) & 0xff);
  }
  return out;
}

bool DecodeCounts(std::string_view bytes, ReportCounts* counts) {
  if (bytes.size() != kCountsBytes) return false;
  for (int i = 0; i < kReportStates; ++i) {
    uint64_t v = 0;
    for (int b = 7; b >= 0; --b) v = (v << 8) | static_cast<uint8_t>(bytes[8 * i + b]);
    counts->n[i] = static_cast<int64_t>(v);
  }
  return true;
}

std::string CountsDelta(int state_index, int64_t delta) {
  if (delta >= -128 && delta <= 127) {
    return std::string{static_cast<char>(state_index), static_cast<char>(delta)};
  }
  ReportCounts c;
  c.n[state_index] = delta;
  return EncodeCounts(c);
}

std::string EncodeReportKey(const ReportKey& key) {
  std::string out;
  out.push_back(static_cast<char>(key.family));
  out.append(key.tenant);
  out.push_back('\0');
  if (key.family != ReportFamily::kCurrent) PutDay(&out, key.day);
  if (key.family == ReportFamily::kSourceOnly) {
    out.append(key.source);
    return out;
  }
  out.append(key.purpose);
  if (key.family == ReportFamily::kPurposeOnly) return out;
  out.push_back('\0');
  switch (key.family) {
    case ReportFamily::kPurposeChannel:
      out.push_back(static_cast<char>(key.channel));
      break;
    case ReportFamily::kJurisdiction:
    case ReportFamily::kCurrent:
      out.push_back(static_cast<char>(key.channel));
      out.append(key.jurisdiction);
      break;
    case ReportFamily::kSource:
      out.append(key.source);
      break;
    case ReportFamily::kFull:
      out.push_back(static_cast<char>(key.channel));
      out.append(key.jurisdiction);
      out.push_back('\0');
      out.append(key.source);
      break;
    case ReportFamily::kSourceOnly:
    case ReportFamily::kPurposeOnly:
      break;
  }
  return out;
}

std::optional<ReportKeyView> DecodeReportKeyView(std::string_view in) {
  if (in.empty()) return std::nullopt;
  ReportKeyView key;
  const char family = in[0];
  in.remove_prefix(1);
  switch (family) {
    case 'p':
    case 'j':
    case 's':
    case 'f':
    case 'c':
    case 'o':
    case 'u':
      key.family = static_cast<ReportFamily>(family);
      break;
    default:
      return std::nullopt;
  }
  if (!TakeString(in, &key.tenant)) return std::nullopt;
  if (key.family != ReportFamily::kCurrent && !TakeDay(in, &key.day)) return std::nullopt;
  if (key.family == ReportFamily::kSourceOnly) {
    key.source = in;
    return key;
  }
  if (key.family == ReportFamily::kPurposeOnly) {
    key.purpose = in;
    return key;
  }
  if (!TakeString(in, &key.purpose)) return std::nullopt;
  switch (key.family) {
    case ReportFamily::kPurposeChannel:
      if (!TakeChannel(in, &key.channel) || !in.empty()) return std::nullopt;
      break;
    case ReportFamily::kJurisdiction:
    case ReportFamily::kCurrent:
      if (!TakeChannel(in, &key.channel)) return std::nullopt;
      key.jurisdiction = in;
      break;
    case ReportFamily::kSource:
      key.source = in;
      break;
    case ReportFamily::kFull:
      if (!TakeChannel(in, &key.channel) || !TakeString(in, &key.jurisdiction)) {
        return std::nullopt;
      }
      key.source = in;
      break;
    case ReportFamily::kSourceOnly:
    case ReportFamily::kPurposeOnly:
      break;
  }
  return key;
}

std::optional<ReportKey> DecodeReportKey(std::string_view in) {
  std::optional<ReportKeyView> view = DecodeReportKeyView(in);
  if (!view.has_value()) return std::nullopt;
  return ReportKey{view->family,
                   std::string(view->tenant),
                   view->day,
                   std::string(view->purpose),
                   view->channel,
                   std::string(view->jurisdiction),
                   std::string(view->source)};
}

std::string ReportDayStart(ReportFamily family, std::string_view tenant, int32_t day) {
  std::string out;
  out.push_back(static_cast<char>(family));
  out.append(tenant);
  out.push_back('\0');
  PutDay(&out, day);
  return out;
}

std::string ReportCurrentPrefix(std::string_view tenant) {
  std::string out;
  out.push_back(static_cast<char>(ReportFamily::kCurrent));
  out.append(tenant);
  out.push_back('\0');
  return out;
}

std::string ReportSourceAdmittedKey(std::string_view tenant, int32_t day, std::string_view source) {
  std::string out = "r";
  out.append(tenant);
  out.push_back('\0');
  PutDay(&out, day);
  out.append(source);
  return out;
}

std::string ReportSourceCountKey(std::string_view tenant, int32_t day) {
  std::string out = "n";
  out.append(tenant);
  out.push_back('\0');
  PutDay(&out, day);
  return out;
}

int32_t UnixDay(int64_t unix_seconds) {
  int64_t day = unix_seconds / 86400;
  if (unix_seconds % 86400 < 0) --day;
  return static_cast<int32_t>(day);
}

std::shared_ptr<rocksdb::MergeOperator> NewReportCountsMergeOperator() {
  return std::make_shared<ReportCountsMerge>();
}

}  // namespace assent::store
