#include "core/consent_signals.h"

#include <algorithm>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/errors.h"

namespace assent::core {

absl::StatusOr<EvidenceSignals> DecodeEvidenceSignals(std::string_view field,
                                                      const v1::Evidence& evidence) {
  EvidenceSignals out;
  if (!evidence.tcf_string().empty()) {
    absl::StatusOr<signals::TcString> tc = signals::DecodeTcString(evidence.tcf_string());
    if (!tc.ok()) {
      return InvalidField(absl::StrCat(std::string(field), ".tcf_string"),
                          std::string(tc.status().message()));
    }
    out.tcf = std::move(*tc);
  }
  if (!evidence.gpp_string().empty()) {
    absl::StatusOr<signals::GppString> gpp = signals::DecodeGppString(evidence.gpp_string());
    if (!gpp.ok()) {
      return InvalidField(absl::StrCat(std::string(field), ".gpp_string"),
                          std::string(gpp.status().message()));
    }
    out.gpp = std::move(*gpp);
  }
  return out;
}

namespace {

bool Covers(const v1::Purpose& purpose, v1::Channel channel) {
  return std::find(purpose.channels().begin(), purpose.channels().end(), channel) !=
         purpose.channels().end();
}

}  // namespace

std::vector<SignalDecision> SignalDecisions(
    const EvidenceSignals& signals, std::span<const v1::Purpose* const> purposes,
    const google::protobuf::RepeatedPtrField<v1::DecisionInput>& explicit_decisions) {
  std::vector<SignalDecision> out;
  // Purposes the request decides itself: on any channel, and on TARGETED_ADS or every channel.
  std::set<std::string_view> decided;
  std::set<std::string_view> decided_for_ads;
  for (const v1::DecisionInput& in : explicit_decisions) {
    decided.insert(in.purpose_id());
    if (in.channel() == v1::TARGETED_ADS || in.channel() == v1::CHANNEL_UNSPECIFIED) {
      decided_for_ads.insert(in.purpose_id());
    }
  }
  std::set<std::string_view> opted_out;
  if (signals.gpp && signals.gpp->OptedOutOfSaleSharingOrTargeting()) {
    for (const v1::Purpose* purpose : purposes) {
      if (purpose->kind() != v1::SALE_OR_SHARE || !Covers(*purpose, v1::TARGETED_ADS)) continue;
      opted_out.insert(purpose->purpose_id());
      if (decided_for_ads.contains(purpose->purpose_id())) continue;
      SignalDecision d;
      d.input.set_purpose_id(purpose->purpose_id());
      d.input.set_channel(v1::TARGETED_ADS);
      d.input.set_state(v1::WITHDRAWN);
      d.from = "gpp_string";
      out.push_back(std::move(d));
    }
  }
  if (signals.tcf) {
    for (const v1::Purpose* purpose : purposes) {
      if (purpose->tcf_purpose_ids().empty() || decided.contains(purpose->purpose_id()) ||
          opted_out.contains(purpose->purpose_id())) {
        continue;
      }
      bool all = true;
      for (uint32_t id : purpose->tcf_purpose_ids())
        all = all && signals.tcf->purpose_consents.Has(id);
      SignalDecision d;
      d.input.set_purpose_id(purpose->purpose_id());
      d.input.set_state(all ? v1::GRANTED : v1::DENIED);
      d.from = "tcf_string";
      out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace assent::core
