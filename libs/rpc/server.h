// What every gRPC server of the project does the same way: one listener per process (no
// SO_REUSEPORT: a second process started on a taken port fails at start instead of silently
// sharing the port and splitting the callers between two stores), reflection that describes
// every service it lists (grpc.health.v1.Health included), and a clear error when the address
// cannot be bound.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"

namespace assent::rpc {

// Call on every ServerBuilder before BuildAndStart (and after InitProtoReflectionServerBuilder
// Plugin, when reflection is wanted).
void ConfigureServerBuilder(grpc::ServerBuilder& builder);

// Builds and starts `builder`, which listens on `listen` (the port written to `*port` by
// AddListeningPort). UNAVAILABLE naming the address when it cannot be bound (in use, or not an
// address of this machine).
absl::StatusOr<std::unique_ptr<grpc::Server>> BuildAndStart(grpc::ServerBuilder& builder,
                                                            std::string_view listen,
                                                            const int& port);

// "host:port" with the port actually bound, from the requested listen address.
std::string BoundAddress(std::string_view listen, int port);

}  // namespace assent::rpc
