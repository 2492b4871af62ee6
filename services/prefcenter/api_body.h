// The JSON API's POST body (api.cc) read into the form it stands for, so that a save through the
// API runs exactly the rules of a save through the page (PlanFromForm). Pure; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "prefcenter/page.h"

namespace assent::prefcenter {

struct ApiSave {
  // The "sequence" of the GET the body answers (compared with PageData::Sequences()).
  std::string sequence;
  // Every row as it is now, with the body's choices and preferences on top, as PlanFromForm
  // reads a submitted page.
  std::multimap<std::string, std::string> form;
};

// Reads a POST body {"sequence", "choices", "preferences"} (the format is in api.cc) against the
// rows and preferences of `page`. INVALID_ARGUMENT "<field>: <why>" (the API's 400 message) for a
// body that is not a JSON object, has no string "sequence", or has a choice or preference of the
// wrong shape or one the page does not have.
absl::StatusOr<ApiSave> ReadApiSave(std::string_view body, const PageData& page,
                                    const std::vector<PurposeView>& purposes);

}  // namespace assent::prefcenter
