// The one place absl::Status becomes grpc::Status.
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace assent::consentd {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace assent::consentd
