#include "rpc/server.h"

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "grpc/health/v1/health.pb.h"

namespace assent::rpc {

void ConfigureServerBuilder(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // gRPC's built-in health service is not generated from a .proto in this process, so its
  // descriptor is missing from the pool reflection reads: `grpcurl ADDR grpc.health.v1.Health/
  // Check` would fail with "Symbol not found". Linking the generated health messages (and using
  // them here) registers the file.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
}

absl::StatusOr<std::unique_ptr<grpc::Server>> BuildAndStart(grpc::ServerBuilder& builder,
                                                            std::string_view listen,
                                                            const int& port) {
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "listen: cannot listen on ", Sv(listen),
        ": the address is in use (another process serves it) or is not an address of this "
        "machine"));
  }
  return server;
}

std::string BoundAddress(std::string_view listen, int port) {
  return absl::StrCat(Sv(listen.substr(0, listen.rfind(':'))), ":", port);
}

}  // namespace assent::rpc
