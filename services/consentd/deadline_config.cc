#include "consentd/deadline_config.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace assent::consentd {
namespace {

absl::StatusOr<std::string> Scalar(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) return InvalidField(field, "must be a scalar");
  return node.as<std::string>();
}

absl::StatusOr<core::DeadlineRule> ParseRule(const YAML::Node& node, const std::string& at) {
  if (!node.IsMap()) return InvalidField(at, "must be a mapping");
  core::DeadlineRule rule;
  bool has_days = false;
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    const std::string field = absl::StrCat(at, ".", key);
    if (key == "applies_to") {
      if (!entry.second.IsSequence() || entry.second.size() == 0) {
        return InvalidField(field, "must be a list of refusals, withdrawals, suppressions");
      }
      rule.refusals = rule.withdrawals = rule.suppressions = false;
      for (size_t i = 0; i < entry.second.size(); ++i) {
        ASSIGN_OR_RETURN(const std::string action,
                         Scalar(entry.second[i], absl::StrCat(field, "[", i, "]")));
        if (action == "refusals") {
          rule.refusals = true;
        } else if (action == "withdrawals") {
          rule.withdrawals = true;
        } else if (action == "suppressions") {
          rule.suppressions = true;
        } else {
          return InvalidField(
              absl::StrCat(field, "[", i, "]"),
              absl::StrCat("must be refusals, withdrawals or suppressions (got \"", action, "\")"));
        }
      }
      continue;
    }
    ASSIGN_OR_RETURN(const std::string value, Scalar(entry.second, field));
    if (key == "name") {
      rule.name = value;
    } else if (key == "jurisdiction") {
      rule.jurisdiction = value;
    } else if (key == "channel") {
      if (!v1::Channel_Parse(value, &rule.channel) || rule.channel == v1::CHANNEL_UNSPECIFIED) {
        return InvalidField(field, absl::StrCat("must be a channel such as EMAIL or SMS (got \"",
                                                value, "\"); leave it out for every channel"));
      }
    } else if (key == "purpose_kind") {
      if (!v1::PurposeKind_Parse(value, &rule.purpose_kind) ||
          rule.purpose_kind == v1::PURPOSE_KIND_UNSPECIFIED) {
        return InvalidField(
            field, absl::StrCat("must be a purpose kind such as SALE_OR_SHARE (got \"", value,
                                "\"); leave it out for every kind"));
      }
    } else if (key == "days") {
      if (!absl::SimpleAtoi(value, &rule.days)) {
        return InvalidField(field, absl::StrCat("must be an integer (got \"", value, "\")"));
      }
      has_days = true;
    } else if (key == "business_days") {
      if (!absl::SimpleAtob(value, &rule.business_days)) {
        return InvalidField(field, absl::StrCat("must be true or false (got \"", value, "\")"));
      }
    } else {
      return InvalidField(field,
                          "unknown field (name, jurisdiction, channel, purpose_kind, days, "
                          "business_days, applies_to)");
    }
  }
  if (!has_days) return InvalidField(at + ".days", "is required");
  return rule;
}

}  // namespace

absl::StatusOr<std::vector<core::DeadlineRule>> ParseDeadlineRules(const YAML::Node& rules,
                                                                   std::string_view field) {
  if (rules.IsNull()) return std::vector<core::DeadlineRule>();
  if (!rules.IsSequence()) return InvalidField(field, "must be a list of rules");
  std::vector<core::DeadlineRule> parsed;
  for (size_t i = 0; i < rules.size(); ++i) {
    if (i >= static_cast<size_t>(core::kMaxDeadlineRules)) {
      return InvalidField(field,
                          absl::StrCat("must have at most ", core::kMaxDeadlineRules, " rules"));
    }
    ASSIGN_OR_RETURN(core::DeadlineRule rule,
                     ParseRule(rules[i], absl::StrCat(Sv(field), "[", i, "]")));
    parsed.push_back(std::move(rule));
  }
  RETURN_IF_ERROR(core::ValidateDeadlineRules(parsed, field));
  return parsed;
}

std::string DescribeDeadlineRules(const std::vector<core::DeadlineRule>& rules) {
  if (rules.empty()) return "none";
  std::vector<std::string> parts;
  for (const core::DeadlineRule& r : rules) {
    std::vector<std::string> actions;
    if (r.refusals) actions.push_back("refusals");
    if (r.withdrawals) actions.push_back("withdrawals");
    if (r.suppressions) actions.push_back("suppressions");
    parts.push_back(absl::StrCat(
        r.name, ": ", r.jurisdiction, " ",
        r.channel == v1::CHANNEL_UNSPECIFIED ? "any channel" : v1::Channel_Name(r.channel),
        r.purpose_kind == v1::PURPOSE_KIND_UNSPECIFIED
            ? ""
            : absl::StrCat(" ", v1::PurposeKind_Name(r.purpose_kind)),
        " ", r.days, r.business_days ? " business" : " calendar", " days (",
        absl::StrJoin(actions, ", "), ")"));
  }
  return absl::StrJoin(parts, "; ");
}

}  // namespace assent::consentd
