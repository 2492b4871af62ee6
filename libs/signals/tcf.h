// IAB TCF v2.2 TC strings, decoded as the IAB's reference library @iabtechlabtcf/core 1.5 reads
// them (TCString.decode): the core segment, then optional disclosed-vendors (segment type 1),
// allowed-vendors (2, deprecated but still read) and publisher-TC (3) segments, '.'-separated,
// each base64url with or without '=' padding. Field names follow the library's (Fields.ts).
//
// Differences from the library, all on strings it would accept but cannot represent: version 1
// strings are refused (TCF v1 is retired), and a language or country letter outside A-Z is an
// error. A truncated field is an error (the library silently reads short substrings as zeros).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace assent::signals {

// A set of ids (vendor ids are 16-bit) kept as a bitset: no per-id allocation.
class IdSet {
 public:
  void Set(uint32_t id);
  // Makes room for ids up to `max_id`; then SetReserved(id <= max_id) needs no bounds check.
  void Reserve(uint32_t max_id);
  void SetReserved(uint32_t id) { words_[id >> 6] |= uint64_t{1} << (id & 63); }
  // Sets first + k for each bit k of `bits`; ids up to first + 31 must be reserved.
  void OrBits(uint32_t first, uint32_t bits);
  void SetRange(uint32_t first, uint32_t last);  // Inclusive; empty if last < first.
  bool Has(uint32_t id) const {
    return (id >> 6) < words_.size() && ((words_[id >> 6] >> (id & 63)) & 1) != 0;
  }
  size_t Count() const;
  std::vector<uint32_t> Ids() const;  // Ascending.
  bool operator==(const IdSet& other) const;

 private:
  std::vector<uint64_t> words_;
};

// A fixed-length bitfield of ids 1..n (purposes, special features), most significant bit = id 1.
struct IdBits {
  uint64_t raw = 0;
  uint8_t length = 0;
  bool Has(uint32_t id) const { return id >= 1 && id <= length && ((raw >> (length - id)) & 1); }
  std::vector<uint32_t> Ids() const;
};

// A vendor section (vendorConsents, vendorLegitimateInterests, vendorsDisclosed, vendorsAllowed).
struct VendorVector {
  uint32_t max_id = 0;          // MaxVendorId
  bool range_encoding = false;  // IsRangeEncoding
  IdSet ids;
};

struct PublisherRestriction {
  uint32_t purpose_id = 0;
  uint32_t restriction_type = 0;  // 0 not allowed, 1 require consent, 2 require LI
  IdSet vendors;
};

struct TcString {
  // Core segment.
  uint32_t version = 0;
  int64_t created_deciseconds = 0;  // deciseconds since the Unix epoch, as encoded
  int64_t last_updated_deciseconds = 0;
  uint32_t cmp_id = 0;
  uint32_t cmp_version = 0;
  uint32_t consent_screen = 0;
  char consent_language[2] = {'E', 'N'};
  uint32_t vendor_list_version = 0;
  uint32_t policy_version = 0;
  bool is_service_specific = false;
  bool use_non_standard_texts = false;
  IdBits special_feature_optins;        // 12 bits
  IdBits purpose_consents;              // 24 bits
  IdBits purpose_legitimate_interests;  // 24 bits
  bool purpose_one_treatment = false;
  char publisher_country_code[2] = {'A', 'A'};
  VendorVector vendor_consents;
  VendorVector vendor_legitimate_interests;
  std::vector<PublisherRestriction> publisher_restrictions;

  bool has_vendors_disclosed = false;
  VendorVector vendors_disclosed;
  bool has_vendors_allowed = false;
  VendorVector vendors_allowed;

  // Publisher TC segment.
  bool has_publisher_tc = false;
  IdBits publisher_consents;              // 24 bits
  IdBits publisher_legitimate_interests;  // 24 bits
  uint32_t num_custom_purposes = 0;
  IdBits publisher_custom_consents;  // num_custom_purposes bits
  IdBits publisher_custom_legitimate_interests;
};

// Decodes a TC string. Errors are INVALID_ARGUMENT "tcf <segment> segment: bit <n>: <why>".
absl::StatusOr<TcString> DecodeTcString(std::string_view text);

// Like DecodeTcString, with segment names prefixed by `prefix`: "tcf", or "gpp tcfeuv2" for GPP's
// tcfeuv2 section.
absl::Status DecodeTcStringInto(std::string_view text, std::string_view prefix, TcString* out);

}  // namespace assent::signals
