// What an endpoint receives for a ConsentChanged: whether it is sent at all (the endpoint's
// filter) and its JSON body (proto3 JSON mapping, sealed evidence removed).
//
// Thread-safe and pure.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/events.pb.h"
#include "webhook_forwarder/config.h"

namespace assent::webhooks {

enum class Verdict { kSend, kFiltered, kOldImport };

// Whether `filter` passes `event` read at `now`.
Verdict Filter(const EndpointFilter& filter, const assent::v1::ConsentChanged& event,
               absl::Time now);

// The body: `event` in proto3 JSON with every Evidence.sealed cleared (the ciphertext only
// Assent can open; the other evidence fields are not identifying since store format 3).
absl::StatusOr<std::string> Body(assent::v1::ConsentChanged event);

}  // namespace assent::webhooks
