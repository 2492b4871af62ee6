// Records the senders' view reads from Kafka (enforce/view.h ApplyRecord, what ViewFollower does
// with each record), then a local check over the view (enforce/enforcer.h CheckInView). Input:
// records, each a flags byte (bit 0: changes topic, else state topic; bit 1: null value, a
// tombstone), the record key up to '\n', a two-byte big-endian value length and the value
// (tests/fuzz/seeds/proto_seeds.sh writes such records from text-format messages). Each input
// starts from an empty view; the catalog has tenant "acme" with purpose "news" (MARKETING: EMAIL,
// SMS) and a US opt-out rule for EMAIL.
// Properties: a record is kInvalid only when its value does not parse, holds no target state, or
// is a tombstone on the changes topic; an applied record leaves the view at its sequence with
// bytes the checks can parse, and applying it again is kStale (re-sent records change nothing);
// a stale record leaves a sequence at least its own; an erased target is gone; a check of any key
// answers a verdict or NOT_FOUND / INVALID_ARGUMENT, never a crash.
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/events.pb.h"
#include "enforce/catalog.h"
#include "enforce/enforcer.h"
#include "enforce/view.h"
#include "fuzz/fuzz_support.h"

namespace assent::fuzz {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1796083200);  // 2026-12-01T00:00:00Z

const enforce::Catalog& TheCatalog() {
  static const auto* catalog = [] {
    auto* c = new enforce::Catalog;
    enforce::TenantCatalog& acme = c->tenants["acme"];
    v1::Purpose& news = acme.purposes["news"];
    news.set_purpose_id("news");
    news.set_kind(v1::MARKETING);
    news.set_legal_basis(v1::CONSENT);
    news.add_channels(v1::EMAIL);
    news.add_channels(v1::SMS);
    news.set_notice_version(1);
    v1::PolicyRule* rule = acme.policy.add_rules();
    rule->set_jurisdiction("US");
    rule->set_channel(v1::EMAIL);
    rule->set_mode(v1::OPT_OUT);
    return c;
  }();
  return *catalog;
}

// The sequence a record's value carries, when it parses to a target state.
std::optional<uint64_t> SequenceOf(enforce::RecordTopic topic, std::string_view value) {
  v1::TargetStateSnapshot state;
  if (topic == enforce::RecordTopic::kChanges) {
    v1::ConsentChanged change;
    if (!change.ParseFromArray(value.data(), static_cast<int>(value.size()))) return std::nullopt;
    state = change.state();
  } else if (!state.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return std::nullopt;
  }
  if (state.has_subject()) return state.subject().sequence();
  if (state.has_contact()) return state.contact().sequence();
  return std::nullopt;
}

// The sequence of a SUBJECT_ERASED change (which carries no state), when the record is one.
std::optional<uint64_t> ErasureOf(enforce::RecordTopic topic, std::string_view value) {
  if (topic != enforce::RecordTopic::kChanges) return std::nullopt;
  v1::ConsentChanged change;
  if (!change.ParseFromArray(value.data(), static_cast<int>(value.size())) ||
      change.kind() != v1::SUBJECT_ERASED) {
    return std::nullopt;
  }
  return change.sequence();
}

bool IsErasedMarker(const enforce::ConsentView& view, std::string_view key) {
  bool erased = false;
  view.Read(key, [&](const enforce::ViewEntry* entry) {
    erased = entry != nullptr && entry->kind == enforce::ViewEntry::Kind::kErased &&
             entry->state.empty();
  });
  return erased;
}

void CheckKey(const enforce::ConsentView& view, std::string_view key) {
  const size_t slash = key.find('/');
  enforce::Recipient recipient;
  recipient.tenant = std::string(key.substr(0, slash));
  recipient.key = std::string(key);
  if (slash != std::string_view::npos && key.substr(slash + 1).starts_with("c:")) {
    recipient.ref.mutable_contact()->set_type(v1::CONTACT_EMAIL);
  } else {
    recipient.ref.set_subject_id(
        std::string(key.substr(slash == std::string_view::npos ? 0 : slash + 1)));
  }
  for (v1::Channel channel : {v1::EMAIL, v1::SMS}) {
    enforce::CheckParams params;
    params.tenant = recipient.tenant;
    params.purpose_id = "news";
    params.channel = channel;
    params.jurisdiction = "US";
    absl::StatusOr<v1::CheckResponse> response =
        enforce::CheckInView(view, TheCatalog(), params, recipient, kNow);
    if (!response.ok()) {
      Require(response.status().code() == absl::StatusCode::kNotFound ||
                  response.status().code() == absl::StatusCode::kInvalidArgument,
              "a local check fails only with NOT_FOUND or INVALID_ARGUMENT",
              response.status().ToString());
      continue;
    }
    Require(response->verdict() != v1::VERDICT_UNSPECIFIED, "a local check answers a verdict");
  }
}

}  // namespace
}  // namespace assent::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace assent;
  using enforce::ApplyResult;
  fuzz::Input input(data, size);
  enforce::ConsentView view;
  for (int records = 0; records < 16 && !input.empty(); ++records) {
    const uint8_t flags = input.Byte();
    const enforce::RecordTopic topic =
        (flags & 1) != 0 ? enforce::RecordTopic::kChanges : enforce::RecordTopic::kState;
    const bool tombstone = (flags & 2) != 0;
    const std::string key(input.Line());
    const size_t length = size_t{input.Byte()} << 8 | input.Byte();
    const std::string value(input.Take(length));
    const uint64_t before = view.Sequence(key);
    const ApplyResult result =
        enforce::ApplyRecord(view, topic, key, tombstone ? nullptr : value.data(), value.size());
    const std::optional<uint64_t> erasure =
        tombstone ? std::nullopt : fuzz::ErasureOf(topic, value);
    const std::optional<uint64_t> sequence =
        tombstone || erasure.has_value() ? std::nullopt : fuzz::SequenceOf(topic, value);
    const bool erasing =
        (tombstone && topic == enforce::RecordTopic::kState) || erasure.has_value();
    // Plain values: the checks below compare them only where they are set.
    const bool has_sequence = sequence.has_value();
    const uint64_t sequence_value = sequence.value_or(0);
    const uint64_t erased_at = erasure.value_or(0);
    switch (result) {
      case ApplyResult::kInvalid:
        fuzz::Require(!has_sequence && !erasing,
                      "only a record without a target state or an erasure is invalid");
        break;
      case ApplyResult::kApplied: {
        fuzz::Require(has_sequence && view.Sequence(key) == sequence_value,
                      "an applied record leaves the view at its sequence");
        bool parses = false;
        view.Read(key, [&](const enforce::ViewEntry* entry) {
          v1::SubjectState subject;
          v1::ContactPointState contact;
          parses = entry != nullptr && (entry->kind == enforce::ViewEntry::Kind::kSubject
                                            ? entry->ParseSubject(subject)
                                            : entry->ParseContact(contact));
        });
        fuzz::Require(parses, "the view's bytes parse");
        fuzz::Require(enforce::ApplyRecord(view, topic, key, value.data(), value.size()) ==
                          ApplyResult::kStale,
                      "a re-sent record is stale");
        break;
      }
      case ApplyResult::kStale:
        if (erasing) {
          fuzz::Require(view.Sequence(key) >= before && view.Sequence(key) >= erased_at,
                        "an erasure older than the held state changes nothing");
        } else {
          fuzz::Require(has_sequence && view.Sequence(key) >= sequence_value,
                        "a stale record is at or below the held sequence");
        }
        break;
      case ApplyResult::kErased:
        fuzz::Require(erasing && fuzz::IsErasedMarker(view, key) && view.Sequence(key) >= before &&
                          view.Sequence(key) >= erased_at,
                      "an erased target keeps only a marker at or above its sequence");
        break;
    }
    fuzz::CheckKey(view, key);
  }
  return 0;
}
