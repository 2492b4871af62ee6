// The one place absl::Status and grpc::Status convert, both ways (they share the canonical code
// numbering).
#pragma once

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace assent::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace assent::rpc
