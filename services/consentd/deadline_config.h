// The `deadlines` section of consentd's YAML: the statutory-deadline rules (core/deadlines.h).
//
//   deadlines:
//     rules:
//       - name: can-spam            # required, unique
//         jurisdiction: US          # US-CA, US, EU or *
//         channel: EMAIL            # optional: every channel
//         purpose_kind: MARKETING   # optional: every kind (never matches a suppression)
//         days: 10                  # 1..366
//         business_days: true       # optional, default true; false: calendar days
//         applies_to: [refusals, withdrawals, suppressions]  # optional, default all three
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/deadlines.h"
#include "yaml-cpp/yaml.h"

namespace assent::consentd {

// The rules of a `deadlines.rules` YAML sequence. INVALID_ARGUMENT naming the field
// ("deadlines.rules[2].days") for a value of the wrong type, an unknown channel, kind, action or
// key, and whatever core::ValidateDeadlineRules refuses.
absl::StatusOr<std::vector<core::DeadlineRule>> ParseDeadlineRules(const YAML::Node& rules,
                                                                   std::string_view field);

// One line for the start-up log: "can-spam: US EMAIL 10 business days; ...".
std::string DescribeDeadlineRules(const std::vector<core::DeadlineRule>& rules);

}  // namespace assent::consentd
