// Requests whose bytes protobuf refuses (invalid UTF-8 in a string field, a truncated or
// malformed message) are answered INVALID_ARGUMENT saying so, naming the field where protobuf
// does, instead of gRPC's default for a failed parse: UNIMPLEMENTED with no message.
//
// How: a service replaces each method's callback handler with ParseGuardHandler (what gRPC's
// generated WithCallbackMethod_* classes do with their own handlers). It parses exactly as gRPC
// does; when that fails it hands the method an empty request marked with the reason, and the
// method answers it with ParseError(). A good request costs one thread-local flag set and cleared
// and, in the method, one empty-unknown-fields test.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "grpcpp/impl/codegen/server_callback_handlers.h"
#include "grpcpp/support/message_allocator.h"

namespace assent::rpc {

// Routes protobuf's log through Assent's handler (once per process; later calls do nothing):
// inside a ProtobufLogCapture it is collected, elsewhere it goes to standard error as before.
void InstallProtobufLogHandler();

// Collects what protobuf logs on this thread while it lives (protobuf names the field of an
// invalid UTF-8 string only in its log). Needs InstallProtobufLogHandler().
class ProtobufLogCapture {
 public:
  ProtobufLogCapture();
  ~ProtobufLogCapture();
  ProtobufLogCapture(const ProtobufLogCapture&) = delete;
  ProtobufLogCapture& operator=(const ProtobufLogCapture&) = delete;
  // What was logged so far (messages joined by "; ").
  std::string Take();
};

// Clears `request` and marks it as a request that could not be parsed, with protobuf's `log`.
void MarkUnparsable(google::protobuf::Message& request, const std::string& log);

// INVALID_ARGUMENT for a request marked by MarkUnparsable, nullopt for any other.
inline std::optional<absl::Status> ParseError(const google::protobuf::Message& request);

template <typename Request, typename Response>
class ParseGuardHandler final : public grpc::internal::MethodHandler {
 public:
  using Method = std::function<grpc::ServerUnaryReactor*(grpc::CallbackServerContext*,
                                                         const Request*, Response*)>;
  explicit ParseGuardHandler(Method method) : inner_(std::move(method)) {
    InstallProtobufLogHandler();
  }

  void RunHandler(const HandlerParameter& param) override { inner_.RunHandler(param); }

  void* Deserialize(grpc_call* call, grpc_byte_buffer* req, grpc::Status* status,
                    void** handler_data) override {
    ProtobufLogCapture capture;
    void* request = inner_.Deserialize(call, req, status, handler_data);
    if (request != nullptr || *handler_data == nullptr) return request;
    auto* holder = static_cast<grpc::MessageHolder<Request, Response>*>(*handler_data);
    MarkUnparsable(*holder->request(), capture.Take());
    *status = grpc::Status::OK;
    return holder->request();
  }

 private:
  grpc::internal::CallbackUnaryHandler<Request, Response> inner_;
};

// The same for a server-streaming method: a request that does not parse reaches the method marked
// (allocated in the call's arena, as gRPC's own handler allocates it) instead of failing the call.
template <typename Request, typename Response>
class ParseGuardStreamingHandler final : public grpc::internal::MethodHandler {
 public:
  using Method = std::function<grpc::ServerWriteReactor<Response>*(grpc::CallbackServerContext*,
                                                                   const Request*)>;
  explicit ParseGuardStreamingHandler(Method method) : inner_(std::move(method)) {
    InstallProtobufLogHandler();
  }

  void RunHandler(const HandlerParameter& param) override { inner_.RunHandler(param); }

  void* Deserialize(grpc_call* call, grpc_byte_buffer* req, grpc::Status* status,
                    void** handler_data) override {
    ProtobufLogCapture capture;
    void* request = inner_.Deserialize(call, req, status, handler_data);
    if (request != nullptr) return request;
    auto* marked =
        new (grpc::g_core_codegen_interface->grpc_call_arena_alloc(call, sizeof(Request)))
            Request();
    MarkUnparsable(*marked, capture.Take());
    *status = grpc::Status::OK;
    return marked;
  }

 private:
  grpc::internal::CallbackServerStreamingHandler<Request, Response> inner_;
};

namespace internal {
absl::Status UnparsableStatus(const google::protobuf::Message& request);
// The index of the method named `method` taking `request_type`, in the service of the request's
// .proto file that declares it; aborts when there is none (a defect).
int MethodIndex(const google::protobuf::Descriptor* request_type, std::string_view method);
}  // namespace internal

// A generated callback service (`Base`) whose methods a subclass guards with ParseGuardHandler,
// by calling GuardParsing for each of them in its constructor.
template <typename Base>
class ParseGuarded : public Base {
 protected:
  template <typename Self, typename Request, typename Response>
  void GuardParsing(std::string_view method,
                    grpc::ServerUnaryReactor* (Self::*fn)(grpc::CallbackServerContext*,
                                                          const Request*, Response*)) {
    Self* self = static_cast<Self*>(this);
    this->MarkMethodCallback(
        internal::MethodIndex(Request::descriptor(), method),
        new ParseGuardHandler<Request, Response>(
            [self, fn](grpc::CallbackServerContext* ctx, const Request* request,
                       Response* response) { return (self->*fn)(ctx, request, response); }));
  }
  template <typename Self, typename Request, typename Response>
  void GuardParsing(std::string_view method,
                    grpc::ServerWriteReactor<Response>* (Self::*fn)(grpc::CallbackServerContext*,
                                                                    const Request*)) {
    Self* self = static_cast<Self*>(this);
    this->MarkMethodCallback(
        internal::MethodIndex(Request::descriptor(), method),
        new ParseGuardStreamingHandler<Request, Response>(
            [self, fn](grpc::CallbackServerContext* ctx, const Request* request) {
              return (self->*fn)(ctx, request);
            }));
  }
};

inline std::optional<absl::Status> ParseError(const google::protobuf::Message& request) {
  if (request.GetReflection()->GetUnknownFields(request).empty()) [[likely]] {
    return std::nullopt;
  }
  absl::Status status = internal::UnparsableStatus(request);
  if (status.ok()) return std::nullopt;
  return status;
}

}  // namespace assent::rpc
