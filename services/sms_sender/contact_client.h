// The service calls an inbound keyword needs: read a contact point's state, add or lift a
// suppression. Behind an interface so the inbound logic can be tested without a server.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "assent/v1/consent.grpc.pb.h"
#include "grpcpp/channel.h"

namespace assent::sms_sender {

class ContactPointClient {
 public:
  virtual ~ContactPointClient() = default;
  // The contact point's state; nullopt when the service has none (NOT_FOUND). Other errors as the
  // service returns them (UNAVAILABLE, DEADLINE_EXCEEDED when it cannot be reached).
  virtual absl::StatusOr<std::optional<v1::ContactPointState>> GetState(
      const std::string& tenant, const v1::ContactPoint& contact_point) = 0;
  // SuppressContactPoint; errors as the service returns them.
  virtual absl::StatusOr<v1::SuppressContactPointResponse> Suppress(
      const v1::SuppressContactPointRequest& request) = 0;
};

// Over gRPC to consentd, on its own channel, each call with `deadline`. Thread-safe.
class GrpcContactPointClient final : public ContactPointClient {
 public:
  // `channel` to consentd (rpc::Dial).
  GrpcContactPointClient(std::shared_ptr<grpc::Channel> channel, absl::Duration deadline);
  absl::StatusOr<std::optional<v1::ContactPointState>> GetState(
      const std::string& tenant, const v1::ContactPoint& contact_point) override;
  absl::StatusOr<v1::SuppressContactPointResponse> Suppress(
      const v1::SuppressContactPointRequest& request) override;

 private:
  const absl::Duration deadline_;
  std::unique_ptr<v1::ConsentService::Stub> stub_;
};

}  // namespace assent::sms_sender
