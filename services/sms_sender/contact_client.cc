#include "sms_sender/contact_client.h"

#include <chrono>

#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "rpc/status.h"

namespace assent::sms_sender {
namespace {

absl::Status FromGrpc(const grpc::Status& status) { return rpc::FromGrpcStatus(status); }

}  // namespace

GrpcContactPointClient::GrpcContactPointClient(std::shared_ptr<grpc::Channel> channel,
                                               absl::Duration deadline)
    : deadline_(deadline), stub_(v1::ConsentService::NewStub(std::move(channel))) {}

absl::StatusOr<std::optional<v1::ContactPointState>> GrpcContactPointClient::GetState(
    const std::string& tenant, const v1::ContactPoint& contact_point) {
  v1::GetContactPointStateRequest request;
  request.set_tenant(tenant);
  *request.mutable_contact_point() = contact_point;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
  v1::ContactPointState state;
  const grpc::Status status = stub_->GetContactPointState(&context, request, &state);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  if (!status.ok()) return FromGrpc(status);
  return state;
}

absl::StatusOr<v1::SuppressContactPointResponse> GrpcContactPointClient::Suppress(
    const v1::SuppressContactPointRequest& request) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline_));
  v1::SuppressContactPointResponse response;
  const grpc::Status status = stub_->SuppressContactPoint(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

}  // namespace assent::sms_sender
