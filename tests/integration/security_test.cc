// consentd behind its guard, as a real process with mTLS (certificates made here with the openssl
// command line) and an authorization policy: every RPC refused without identity, without the
// permission and for another tenant, with nothing stored; the history's actor is the principal;
// policy reloads on file change and SIGHUP; bearer tokens only over TLS; expired and untrusted
// client certificates refused; server certificate rotation under load with no failed call; rate
// limits; unparsable requests; one listener per port.
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "assent/v1/admin.pb.h"
#include "assent/v1/catalog.grpc.pb.h"
#include "assent/v1/consent.grpc.pb.h"
#include "assent/v1/export.grpc.pb.h"
#include "assent/v1/import.pb.h"
#include "assent/v1/report.grpc.pb.h"
#include "assent/v1/rights.grpc.pb.h"
#include "common/digest.h"
#include "common/hex.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/client_unary_call.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "rpc/tls.h"
#include "testing/consentd_process.h"
#include "testing/kafka_broker.h"
#include "testing/process.h"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;

constexpr char kAdmin[] = "spiffe://assent.test/admin";
constexpr char kWriter[] = "spiffe://assent.test/writer";
constexpr char kToken[] = "s3cret-bearer-token-of-the-crm";

std::string Shell(const std::string& command) {
  int status = 0;
  std::string out = testing::RunCommand(command + " 2>&1", &status);
  EXPECT_EQ(status, 0) << command << "\n" << out;
  return out;
}

// A CA and certificates for the test, made with the openssl command line in `dir`.
class TestPki {
 public:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {
    Shell(absl::StrCat("cd ", dir_, R"( && umask 077 &&
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=Assent test CA" -keyout ca-key.pem -out ca.pem &&
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=Someone else's CA" -keyout other-ca-key.pem -out other-ca.pem &&
      chmod 644 ca.pem other-ca.pem)"));
  }

  // Issues `name`.pem / `name`-key.pem for subject CN `cn` with `san` ("" for none), signed by the
  // test CA (or the other CA), valid for two days or already expired.
  void Issue(const std::string& name, const std::string& cn, const std::string& san,
             bool other_ca = false, bool expired = false) {
    const std::string ca = other_ca ? "other-ca" : "ca";
    std::string ext = "extendedKeyUsage=serverAuth,clientAuth\\n";
    if (!san.empty()) ext = absl::StrCat("subjectAltName=", san, "\\n", ext);
    std::string sign = absl::StrCat("openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ",
                                    ca, "-key.pem -set_serial ", ++serial_, " -days 2 -extfile ",
                                    name, ".ext -out ", name, ".pem");
    if (expired) {
      // `openssl ca` is the command-line tool that sets both validity dates.
      sign = absl::StrCat(
          "touch index.txt && printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\n"
          "new_certs_dir=.\\nserial=serial.txt\\ndefault_md=sha256\\npolicy=p\\ncopy_extensions="
          "copy\\n"
          "[p]\\ncommonName=supplied\\n' > ca.cnf && echo 1000 > serial.txt && "
          "openssl ca -batch -config ca.cnf -cert ",
          ca, ".pem -keyfile ", ca, "-key.pem -in ", name, ".csr -out ", name,
          ".pem -startdate 20200101000000Z -enddate 20200102000000Z -notext");
    }
    Shell(absl::StrCat("cd ", dir_, " && umask 077 && printf '", ext, "' > ", name,
                       ".ext && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
                       " -subj '/CN=",
                       cn, "' -keyout ", name, "-key.pem -out ", name, ".csr",
                       expired ? absl::StrCat(" -addext 'extendedKeyUsage=clientAuth'") : "",
                       " && ", sign, " && chmod 644 ", name, ".pem"));
  }

  // Client TLS options presenting `name`'s certificate (empty: none).
  rpc::TlsOptions Client(const std::string& name) const {
    rpc::TlsOptions tls;
    tls.ca_file = Path("ca.pem");
    if (!name.empty()) {
      tls.cert_file = Path(name + ".pem");
      tls.key_file = Path(name + "-key.pem");
    }
    return tls;
  }
  std::string Path(const std::string& file) const { return dir_ + "/" + file; }

 private:
  std::string dir_;
  int serial_ = 100;
};

std::string PolicyYaml(const std::string& reader_permissions) {
  return absl::StrCat(R"(principals:
  - id: spiffe://assent.test/admin
    tenants: ["*"]
    permissions: ["*"]
  - id: spiffe://assent.test/writer
    tenants: [acme]
    permissions: [consent.write, consent.read, history.read, catalog.read]
  - id: reader
    tenants: [acme]
    permissions: [)",
                      reader_permissions, R"(]
  - id: globex-writer.assent.test
    tenants: [globex]
    permissions: ["*"]
  - id: crm-sync
    tenants: [acme]
    permissions: [consent.check]
    tokens_sha256: [)",
                      ToHex(Sha256(kToken)), "]\n");
}

void WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return ctx;
}

// Calls `method` ("/assent.v1.ConsentService/Check") with raw request bytes.
grpc::Status RawCall(grpc::Channel& channel, const std::string& method, const std::string& bytes,
                     std::string* response = nullptr) {
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1), reply;
  auto ctx = Ctx();
  grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
      &channel, grpc::internal::RpcMethod(method.c_str(), grpc::internal::RpcMethod::NORMAL_RPC),
      ctx.get(), request, &reply);
  if (response != nullptr && status.ok()) {
    std::vector<grpc::Slice> slices;
    (void)reply.Dump(&slices);
    response->clear();
    for (const auto& s : slices)
      response->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& address, const rpc::TlsOptions& tls,
                                       int id = 0) {
  grpc::ChannelArguments args;
  args.SetInt("grpc.channel_id", id);  // its own connection
  auto channel = rpc::Dial(address, tls, args);
  EXPECT_TRUE(channel.ok()) << channel.status();
  return *channel;
}

v1::RecordDecisionsRequest Grant(const std::string& subject, const std::string& actor) {
  v1::RecordDecisionsRequest r;
  r.set_tenant("acme");
  r.mutable_target()->set_subject_id(subject);
  r.set_source("web-signup");
  r.set_actor(actor);
  auto* d = r.add_decisions();
  d->set_purpose_id("marketing.newsletter");
  d->set_channel(v1::EMAIL);
  d->set_state(v1::GRANTED);
  return r;
}

// One request per RPC of Assent's services, about tenant "acme": a valid one for the writes a
// test can check (a refused write must change nothing), the tenant filled in for the others.
std::vector<std::pair<std::string, std::string>> EveryRpc() {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  (void)v1::CheckRequest::descriptor();
  (void)v1::CreateTenantRequest::descriptor();
  (void)v1::CompactStoreRequest::descriptor();
  (void)v1::EraseSubjectRequest::descriptor();
  (void)v1::ExportSubjectRequest::descriptor();
  std::vector<std::pair<std::string, std::string>> calls;
  (void)v1::GetReceiptRequest::descriptor();
  (void)v1::ImportDecisionsRequest::descriptor();
  (void)v1::GetConsentReportRequest::descriptor();
  for (const char* name :
       {"assent.v1.CatalogService", "assent.v1.ConsentService", "assent.v1.SubjectRightsService",
        "assent.v1.AdminService", "assent.v1.ExportService", "assent.v1.ReceiptService",
        "assent.v1.ImportService", "assent.v1.ReportService"}) {
    const auto* service = pool->FindServiceByName(name);
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* method = service->method(i);
      std::unique_ptr<google::protobuf::Message> request(
          google::protobuf::MessageFactory::generated_factory()
              ->GetPrototype(method->input_type())
              ->New());
      const auto* d = request->GetDescriptor();
      const auto* r = request->GetReflection();
      if (const auto* f = d->FindFieldByName("tenant");
          f != nullptr && f->type() == f->TYPE_STRING) {
        r->SetString(request.get(), f, "acme");
      }
      for (const char* field : {"name", "parent"}) {
        if (const auto* f = d->FindFieldByName(field))
          r->SetString(request.get(), f, "tenants/acme");
      }
      if (method->name() == "CreateTenant") {
        static_cast<v1::CreateTenantRequest&>(*request).mutable_tenant()->set_tenant_id("acme2");
      } else if (method->name() == "UpdatePurpose") {
        static_cast<v1::UpdatePurposeRequest&>(*request).mutable_purpose()->set_name(
            "tenants/acme/purposes/marketing.newsletter");
      } else if (method->name() == "RecordDecisions") {
        request->CopyFrom(Grant("s1", "form"));
      } else if (method->name() == "SetPreferences") {
        auto& p = static_cast<v1::SetPreferencesRequest&>(*request);
        p.set_subject_id("s1");
        p.set_actor("form");
        p.set_source("web");
        p.mutable_preferences()->set_preferred_language("de");
      } else if (method->name() == "SuppressContactPoint") {
        auto& p = static_cast<v1::SuppressContactPointRequest&>(*request);
        p.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
        p.mutable_contact_point()->set_value("a@example.com");
        p.set_channel(v1::EMAIL);
        p.set_kind(v1::Suppression::UNSUBSCRIBED);
        p.set_actor("form");
        p.set_source("web");
      } else if (method->name() == "LinkContactPoint") {
        auto& p = static_cast<v1::LinkContactPointRequest&>(*request);
        p.set_subject_id("s1");
        p.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
        p.mutable_contact_point()->set_value("a@example.com");
        p.set_actor("form");
        p.set_source("web");
      }
      calls.emplace_back(absl::StrCat("/", name, "/", method->name()),
                         request->SerializeAsString());
    }
  }
  return calls;
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = std::make_unique<TestPki>(dir_.path());
    pki_->Issue("server", "localhost", "IP:127.0.0.1,DNS:localhost");
    pki_->Issue("admin", "admin", std::string("URI:") + kAdmin);
    pki_->Issue("writer", "writer", std::string("URI:") + kWriter);
    pki_->Issue("reader", "reader", "");
    pki_->Issue("globex", "globex", "DNS:globex-writer.assent.test");
    WriteAtomically(dir_.Sub("policy.yaml"), PolicyYaml("consent.check"));
  }

  std::vector<std::string> TlsArgs(const std::string& client_auth = "optional") const {
    return {"--tls-cert",         pki_->Path("server.pem"),
            "--tls-key",          pki_->Path("server-key.pem"),
            "--tls-ca",           pki_->Path("ca.pem"),
            "--tls-client-auth",  client_auth,
            "--auth-policy-file", dir_.Sub("policy.yaml")};
  }

  // Starts consentd with mTLS (client certificates optional) and the policy; the test's own
  // channel is the admin's; seeds tenant acme.
  void StartServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = TlsArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    server_ =
        std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
    server_->set_client_tls(pki_->Client("admin"));
    ASSERT_NO_FATAL_FAILURE(server_->Start(args));
    ASSERT_TRUE(server_->SeedCatalog("marketing.newsletter", {v1::EMAIL}));
  }

  std::shared_ptr<grpc::Channel> As(const std::string& who, int id = 0) {
    return Channel(server_->address(), pki_->Client(who), id);
  }

  // What the admin can read of the store: the catalog, a subject, its history, a contact point.
  std::string StoreSnapshot() {
    std::string out;
    auto catalog = v1::CatalogService::NewStub(server_->channel());
    auto consent = v1::ConsentService::NewStub(server_->channel());
    v1::ListTenantsResponse tenants;
    EXPECT_TRUE(catalog->ListTenants(Ctx().get(), {}, &tenants).ok());
    v1::ListPurposesRequest lp;
    lp.set_parent("tenants/acme");
    v1::ListPurposesResponse purposes;
    EXPECT_TRUE(catalog->ListPurposes(Ctx().get(), lp, &purposes).ok());
    v1::GetDefaultPolicyRequest gp;
    gp.set_name("tenants/acme/policy");
    v1::DefaultPolicy policy;
    grpc::Status p = catalog->GetDefaultPolicy(Ctx().get(), gp, &policy);
    v1::GetSubjectStateRequest gs;
    gs.set_tenant("acme");
    gs.set_subject_id("s1");
    v1::SubjectState subject;
    grpc::Status s = consent->GetSubjectState(Ctx().get(), gs, &subject);
    v1::GetContactPointStateRequest gc;
    gc.set_tenant("acme");
    gc.mutable_contact_point()->set_type(v1::CONTACT_EMAIL);
    gc.mutable_contact_point()->set_value("a@example.com");
    v1::ContactPointState contact;
    grpc::Status c = consent->GetContactPointState(Ctx().get(), gc, &contact);
    absl::StrAppend(&out, tenants.SerializeAsString(), "|", purposes.SerializeAsString(), "|",
                    p.error_code(), policy.SerializeAsString(), "|", s.error_code(),
                    subject.SerializeAsString(), "|", c.error_code(), contact.SerializeAsString());
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<testing::ConsentdProcess> server_;
};

TEST_F(SecurityTest, EveryRpcIsRefusedWithoutIdentityPermissionOrTenantAndNothingIsStored) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string before = StoreSnapshot();
  auto anonymous = As("");     // TLS without a client certificate
  auto reader = As("reader");  // consent.check on acme only
  auto globex = As("globex");  // everything, on globex only
  const auto calls = EveryRpc();
  EXPECT_EQ(calls.size(), 39u);
  for (const auto& [method, bytes] : calls) {
    SCOPED_TRACE(method);
    grpc::Status status = RawCall(*anonymous, method, bytes);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << status.error_message();

    const bool is_check = absl::EndsWith(method, "/Check") || absl::EndsWith(method, "/BatchCheck");
    status = RawCall(*reader, method, bytes);
    if (is_check) {
      EXPECT_NE(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_THAT(status.error_message(), HasSubstr("\"reader\" lacks permission"));
    }

    status = RawCall(*globex, method, bytes);
    if (absl::EndsWith(method, "/ListTenants")) {
      // Listing is allowed to anyone who may read some tenant's catalog: it shows only those.
      ASSERT_TRUE(status.ok()) << status.error_message();
      continue;
    }
    if (absl::EndsWith(method, "/GetReceiptKeys")) {
      // The receipt keys are the same for every tenant: any catalog reader may fetch them (this
      // server has no receipt keyring, so there are none).
      EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
          << status.error_message();
      continue;
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    // The store is shared: an admin RPC needs the permission on every tenant.
    EXPECT_THAT(status.error_message(),
                ::testing::AnyOf(HasSubstr("on tenant \"acme\""), HasSubstr("on tenant \"acme2\""),
                                 HasSubstr("on every tenant")));
  }
  EXPECT_EQ(StoreSnapshot(), before);

  // The same write by a principal holding the permission is stored: the refusals above were not
  // for a request that could not have been written anyway.
  auto writer = v1::ConsentService::NewStub(As("writer"));
  v1::RecordDecisionsResponse recorded;
  grpc::Status ok = writer->RecordDecisions(Ctx().get(), Grant("s1", "form"), &recorded);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_NE(StoreSnapshot(), before);

  // The tenant list of a principal granted one tenant shows that tenant only.
  v1::ListTenantsResponse listed;
  ASSERT_TRUE(v1::CatalogService::NewStub(globex)->ListTenants(Ctx().get(), {}, &listed).ok());
  EXPECT_EQ(listed.tenants_size(), 0);  // globex does not exist; acme is not theirs

  int curl = 0;
  const std::string metrics =
      testing::RunCommand("curl -s http://" + server_->metrics_address() + "/metrics", &curl);
  EXPECT_THAT(metrics,
              HasSubstr("assent_auth_denied_total{method=\"Check\",principal=\"anonymous\""));
  EXPECT_THAT(metrics, HasSubstr("principal=\"reader\",reason=\"permission_denied\""));
}

TEST_F(SecurityTest, TheHistoryNamesThePrincipalWhateverTheRequestSays) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto writer = v1::ConsentService::NewStub(As("writer"));
  v1::RecordDecisionsResponse recorded;
  ASSERT_TRUE(
      writer->RecordDecisions(Ctx().get(), Grant("s2", "spiffe://assent.test/admin"), &recorded)
          .ok());
  EXPECT_EQ(recorded.records(0).actor(), kWriter);
  EXPECT_EQ(recorded.records(0).on_behalf_of(), "spiffe://assent.test/admin");
  v1::ListHistoryRequest lh;
  lh.set_tenant("acme");
  lh.mutable_target()->set_subject_id("s2");
  v1::ListHistoryResponse history;
  ASSERT_TRUE(writer->ListHistory(Ctx().get(), lh, &history).ok());
  ASSERT_EQ(history.records_size(), 1);
  EXPECT_EQ(history.records(0).actor(), kWriter);
  EXPECT_EQ(history.records(0).on_behalf_of(), "spiffe://assent.test/admin");
  v1::VerifyHistoryRequest vh;
  vh.set_tenant("acme");
  *vh.mutable_target() = lh.target();
  v1::VerifyHistoryResponse verified;
  ASSERT_TRUE(writer->VerifyHistory(Ctx().get(), vh, &verified).ok());
  EXPECT_TRUE(verified.valid());
}

// ExportSubject streams through the guard: refused without subject.export before any chunk,
// NOT_FOUND for a subject never recorded, and for the admin a header, the whole history in pages
// and a verified trailer; assentctl export writes the same as JSON Lines and ISO 27560 records.
TEST_F(SecurityTest, ExportNeedsSubjectExportThenStreamsTheWholeHistory) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto writer = v1::ConsentService::NewStub(As("writer"));
  constexpr int kRecords = 250;
  for (int i = 0; i < kRecords; ++i) {
    v1::RecordDecisionsRequest grant = Grant("s9", "form");
    grant.mutable_decisions(0)->set_state(i % 2 == 0 ? v1::GRANTED : v1::WITHDRAWN);
    v1::RecordDecisionsResponse recorded;
    grpc::Status ok = writer->RecordDecisions(Ctx().get(), grant, &recorded);
    ASSERT_TRUE(ok.ok()) << ok.error_message();
  }
  auto read_all = [](v1::ExportService::Stub& stub, const v1::ExportSubjectRequest& request,
                     std::vector<v1::ExportChunk>& chunks) {
    auto ctx = Ctx();
    auto reader = stub.ExportSubject(ctx.get(), request);
    v1::ExportChunk chunk;
    while (reader->Read(&chunk)) chunks.push_back(chunk);
    return reader->Finish();
  };
  v1::ExportSubjectRequest request;
  request.set_tenant("acme");
  request.set_subject_id("s9");
  request.set_page_size(40);

  // The writer may read the history but not export it: refused before the first chunk.
  std::vector<v1::ExportChunk> chunks;
  auto as_writer = v1::ExportService::NewStub(As("writer"));
  grpc::Status status = read_all(*as_writer, request, chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("subject.export"));
  EXPECT_TRUE(chunks.empty());

  auto as_admin = v1::ExportService::NewStub(As("admin"));
  v1::ExportSubjectRequest unknown = request;
  unknown.set_subject_id("nobody");
  status = read_all(*as_admin, unknown, chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_TRUE(chunks.empty());
  v1::ExportSubjectRequest bad = request;
  bad.set_page_size(5000);
  status = read_all(*as_admin, bad, chunks);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("page_size"));

  status = read_all(*as_admin, request, chunks);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GE(chunks.size(), 2u);
  ASSERT_TRUE(chunks.front().has_header());
  EXPECT_EQ(chunks.front().header().history_length(), static_cast<uint64_t>(kRecords));
  ASSERT_TRUE(chunks.back().has_trailer());
  const v1::ExportTrailer& trailer = chunks.back().trailer();
  EXPECT_TRUE(trailer.chain_verified()) << trailer.problem();
  EXPECT_EQ(trailer.record_count(), static_cast<uint64_t>(kRecords));
  EXPECT_EQ(trailer.chain_head(), chunks.front().header().subject().chain_head());
  uint64_t next = 1;
  for (size_t i = 1; i + 1 < chunks.size(); ++i) {
    ASSERT_TRUE(chunks[i].has_history());
    EXPECT_LE(chunks[i].history().records_size(), 40);
    for (const auto& r : chunks[i].history().records()) EXPECT_EQ(r.record().sequence(), next++);
  }
  EXPECT_EQ(next - 1, static_cast<uint64_t>(kRecords));

  // assentctl export, as the admin, into files.
  const std::string tls = absl::StrCat(
      " --server ", server_->address(), " --tls-ca ", pki_->Path("ca.pem"), " --tls-cert ",
      pki_->Path("admin.pem"), " --tls-key ", pki_->Path("admin-key.pem"), " --tenant acme");
  int exit_code = -1;
  std::string out = testing::RunCommand(
      absl::StrCat(ASSENTCTL_PATH, tls, " export --subject s9 --format json --output ",
                   dir_.Sub("s9.jsonl"), " 2>&1"),
      &exit_code);
  ASSERT_EQ(exit_code, 0) << out;
  const std::vector<std::string> lines =
      absl::StrSplit(absl::StripSuffix(testing::ReadFile(dir_.Sub("s9.jsonl")), "\n"), '\n');
  EXPECT_EQ(lines.size(), 2u + (kRecords + 99) / 100);  // default pages of 100
  EXPECT_THAT(lines.front(), ::testing::StartsWith("{\"header\":"));
  EXPECT_THAT(lines.back(), HasSubstr("\"chainVerified\":true"));
  out = testing::RunCommand(
      absl::StrCat(ASSENTCTL_PATH, tls, " export --subject s9 --format iso27560 2>&1"), &exit_code);
  ASSERT_EQ(exit_code, 0) << out;
  const std::vector<std::string> records = absl::StrSplit(absl::StripSuffix(out, "\n"), '\n');
  EXPECT_EQ(records.size(), static_cast<size_t>(kRecords));
  EXPECT_THAT(records.front(), HasSubstr("\"pii_principal_id\":\"s9\""));
  EXPECT_THAT(records.front(), HasSubstr("\"lawful_basis\":\"consent\""));  // from the catalog
  EXPECT_EQ(out.find("cannot read the catalog"), std::string::npos);
  out = testing::RunCommand(absl::StrCat(ASSENTCTL_PATH, tls, " export --subject nobody 2>&1"),
                            &exit_code);
  EXPECT_EQ(WEXITSTATUS(exit_code), 2) << out;
  EXPECT_THAT(out, HasSubstr("NOT_FOUND"));
}

TEST_F(SecurityTest, PolicyReloadsGrantThenRevokeWithoutARestart) {
  // Long polling interval: the revoke below can only come from SIGHUP.
  ASSERT_NO_FATAL_FAILURE(StartServer({"--auth-reload-interval", "200ms"}));
  auto reader = v1::ConsentService::NewStub(As("reader"));
  auto write = [&] {
    v1::RecordDecisionsResponse r;
    return reader->RecordDecisions(Ctx().get(), Grant("s3", "form"), &r).error_code();
  };
  ASSERT_EQ(write(), grpc::StatusCode::PERMISSION_DENIED);

  // Granted by editing the file: picked up without a signal.
  WriteAtomically(dir_.Sub("policy.yaml"), PolicyYaml("consent.check, consent.write"));
  absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (write() != grpc::StatusCode::OK && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(50));
  ASSERT_EQ(write(), grpc::StatusCode::OK);

  // A bad file is refused and the previous policy stays.
  WriteAtomically(dir_.Sub("policy.yaml"), PolicyYaml("consent.check, consent.wrote"));
  deadline = absl::Now() + absl::Seconds(15);
  while (server_->log().find("authorization policy refused") == std::string::npos &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_THAT(server_->log(), HasSubstr("unknown permission \"consent.wrote\""));
  EXPECT_EQ(write(), grpc::StatusCode::OK);

  // Revoked, and the reload asked for with SIGHUP.
  WriteAtomically(dir_.Sub("policy.yaml"), PolicyYaml("consent.check"));
  server_->Signal(SIGHUP);
  deadline = absl::Now() + absl::Seconds(15);
  while (write() != grpc::StatusCode::PERMISSION_DENIED && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(write(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(server_->log(), HasSubstr("SIGHUP: reloading the authorization policy"));
}

TEST_F(SecurityTest, BearerTokensAuthenticateOverTlsOnly) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  const std::string token_file = dir_.Sub("token");
  std::ofstream(token_file) << kToken << "\n";
  chmod(token_file.c_str(), 0600);
  rpc::TlsOptions tls = pki_->Client("");
  tls.token_file = token_file;
  auto crm = v1::ConsentService::NewStub(Channel(server_->address(), tls));
  v1::CheckRequest check;
  check.set_tenant("acme");
  check.mutable_target()->set_subject_id("s1");
  check.set_purpose_id("marketing.newsletter");
  check.set_channel(v1::EMAIL);
  v1::CheckResponse verdict;
  grpc::Status status = crm->Check(Ctx().get(), check, &verdict);
  EXPECT_TRUE(status.ok()) << status.error_message();
  v1::RecordDecisionsResponse r;
  status = crm->RecordDecisions(Ctx().get(), Grant("s1", "crm"), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("\"crm-sync\" lacks permission consent.write"));

  // An unknown token is no identity; the token itself is never echoed.
  auto anonymous = v1::ConsentService::NewStub(As(""));
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", "Bearer not-the-token");
  status = anonymous->Check(ctx.get(), check, &verdict);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("not-the-token")));

  // A client refuses to send a token without TLS.
  rpc::TlsOptions plain;
  plain.token_file = token_file;
  EXPECT_FALSE(rpc::Dial(server_->address(), plain).ok());

  // A plaintext server does not accept one either.
  testing::TempDir plain_dir;
  testing::ConsentdProcess insecure(CONSENTD_PATH, plain_dir.Sub("data"), plain_dir.path());
  ASSERT_NO_FATAL_FAILURE(insecure.Start({"--auth-policy-file", dir_.Sub("policy.yaml")}));
  auto plain_stub = v1::ConsentService::NewStub(insecure.channel());
  ctx = Ctx();
  ctx->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  status = plain_stub->Check(ctx.get(), check, &verdict);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(status.error_message(), HasSubstr("only over TLS"));
  EXPECT_EQ(insecure.log().find(kToken), std::string::npos);
  EXPECT_EQ(server_->log().find(kToken), std::string::npos);
}

TEST_F(SecurityTest, ExpiredAndUntrustedClientCertificatesAreRefused) {
  pki_->Issue("expired", "admin", std::string("URI:") + kAdmin, false, /*expired=*/true);
  pki_->Issue("stranger", "admin", std::string("URI:") + kAdmin, /*other_ca=*/true);
  // mTLS required: a refused certificate cannot even connect.
  server_ =
      std::make_unique<testing::ConsentdProcess>(CONSENTD_PATH, dir_.Sub("data"), dir_.path());
  server_->set_client_tls(pki_->Client("admin"));
  ASSERT_NO_FATAL_FAILURE(server_->Start(TlsArgs("require")));
  v1::ListTenantsResponse listed;
  for (const char* who : {"expired", "stranger", ""}) {
    auto stub = v1::CatalogService::NewStub(As(who));
    grpc::Status status = stub->ListTenants(Ctx().get(), {}, &listed);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << who << ": " << status.error_message();
  }
  auto admin = v1::CatalogService::NewStub(As("admin"));
  EXPECT_TRUE(admin->ListTenants(Ctx().get(), {}, &listed).ok());
}

// The serial number of the certificate the server at `address` presents to a new connection.
std::string ServedSerial(const TestPki& pki, const std::string& address) {
  int status = 0;
  return std::string(absl::StripAsciiWhitespace(testing::RunCommand(
      absl::StrCat("openssl s_client -connect ", address, " -CAfile ", pki.Path("ca.pem"),
                   " -cert ", pki.Path("admin.pem"), " -key ", pki.Path("admin-key.pem"),
                   " </dev/null 2>/dev/null | openssl x509 -noout -serial"),
      &status)));
}

TEST_F(SecurityTest, ServerCertificateRotatesUnderLoadWithoutAFailedCall) {
  ASSERT_NO_FATAL_FAILURE(StartServer({"--tls-refresh-interval", "1s"}));
  const std::string first = ServedSerial(*pki_, server_->address());
  ASSERT_THAT(first, ::testing::StartsWith("serial="));

  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failures{0};
  std::string failure;
  std::thread load([&] {
    auto reused = v1::ConsentService::NewStub(As("reader", 1));
    v1::CheckRequest check;
    check.set_tenant("acme");
    check.mutable_target()->set_subject_id("s1");
    check.set_purpose_id("marketing.newsletter");
    check.set_channel(v1::EMAIL);
    for (int i = 2; !stop; ++i) {
      // Calls on a connection made before the rotation, and on a new connection each time.
      auto fresh = v1::ConsentService::NewStub(As("reader", i));
      for (auto* stub : {reused.get(), fresh.get()}) {
        v1::CheckResponse verdict;
        grpc::Status s = stub->Check(Ctx().get(), check, &verdict);
        ++calls;
        if (!s.ok()) {
          if (failures++ == 0) failure = s.error_message();
        }
      }
    }
  });
  // Renew: same key, new certificate, swapped in with one rename.
  Shell(absl::StrCat("cd ", dir_.path(),
                     " && openssl x509 -req -in server.csr -CA ca.pem -CAkey "
                     "ca-key.pem -set_serial 4242 -days 2 -extfile server.ext "
                     "-out server.pem.new && mv server.pem.new server.pem"));
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  std::string served = first;
  while (served == first && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(200));
    served = ServedSerial(*pki_, server_->address());
  }
  absl::SleepFor(absl::Milliseconds(500));  // some calls on the new certificate too
  stop = true;
  load.join();
  EXPECT_EQ(served, "serial=1092");  // 4242
  EXPECT_GT(calls.load(), 10);
  EXPECT_EQ(failures.load(), 0) << failure;
}

TEST_F(SecurityTest, RateLimitsAnswerResourceExhaustedWithARetryDelay) {
  ASSERT_NO_FATAL_FAILURE(
      StartServer({"--rate-limits-principal-rate", "0.5", "--rate-limits-principal-burst", "2"}));
  auto reader = v1::ConsentService::NewStub(As("reader"));
  v1::CheckRequest check;
  check.set_tenant("acme");
  check.mutable_target()->set_subject_id("s1");
  check.set_purpose_id("marketing.newsletter");
  check.set_channel(v1::EMAIL);
  grpc::Status last;
  std::string pushback;
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::CheckResponse verdict;
    last = reader->Check(&ctx, check, &verdict);
    auto it = ctx.GetServerTrailingMetadata().find("grpc-retry-pushback-ms");
    if (it != ctx.GetServerTrailingMetadata().end())
      pushback.assign(it->second.data(), it->second.size());
  }
  EXPECT_EQ(last.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(last.error_message(), HasSubstr("rate limit of the principal"));
  int ms = 0;
  ASSERT_TRUE(absl::SimpleAtoi(pushback, &ms)) << pushback;
  EXPECT_GT(ms, 0);
  EXPECT_LE(ms, 2000);
}

TEST_F(SecurityTest, UnparsableRequestsAreInvalidArgumentNamingTheField) {
  ASSERT_NO_FATAL_FAILURE(StartServer());
  auto admin = server_->channel();
  // CheckRequest.tenant (field 1) holding bytes that are not UTF-8.
  const std::string bad_utf8("\x0a\x02\xff\xfe", 4);
  grpc::Status status = RawCall(*admin, "/assent.v1.ConsentService/Check", bad_utf8);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("tenant: is not valid UTF-8"));
  // The same for the server-streaming ExportSubject (ExportSubjectRequest.tenant is field 1).
  status = RawCall(*admin, "/assent.v1.ExportService/ExportSubject", bad_utf8);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("tenant: is not valid UTF-8"));
  // A nested message's string: RecordDecisionsRequest.target (2) { subject_id (1) }.
  const std::string nested("\x12\x04\x0a\x02\xc3\x28", 6);
  status = RawCall(*admin, "/assent.v1.ConsentService/RecordDecisions", nested);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("assent.v1.Target.subject_id"));
  // Truncated: field 1 says 5 bytes follow, one does.
  status = RawCall(*admin, "/assent.v1.CatalogService/GetTenant", std::string("\x0a\x05t", 3));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("could not be parsed as assent.v1.GetTenantRequest"));
  // And the service still answers good requests.
  std::string reply;
  v1::GetTenantRequest good;
  good.set_name("tenants/acme");
  EXPECT_TRUE(
      RawCall(*admin, "/assent.v1.CatalogService/GetTenant", good.SerializeAsString(), &reply)
          .ok());
}

TEST(ListenerTest, ASecondConsentdOnATakenPortFailsNamingTheAddress) {
  testing::TempDir dir;
  const std::string listen = absl::StrCat("127.0.0.1:", testing::FreePort());
  testing::ConsentdProcess first(CONSENTD_PATH, dir.Sub("a"), dir.path());
  ASSERT_NO_FATAL_FAILURE(first.Start({"--listen", listen}));
  testing::ChildProcess second(
      CONSENTD_PATH,
      {"--listen", listen, "--data-dir", dir.Sub("b"), "--insecure", "--metrics-listen", ""},
      dir.Sub("second.log"));
  const int status = second.Wait(absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_THAT(testing::ReadFile(dir.Sub("second.log")),
              HasSubstr("cannot listen on " + listen + ": the address is in use"));
  // So does one whose metrics port is taken (the HTTP side of operability).
  testing::ChildProcess third(CONSENTD_PATH,
                              {"--listen", "127.0.0.1:0", "--data-dir", dir.Sub("c"), "--insecure",
                               "--metrics-listen", first.metrics_address()},
                              dir.Sub("third.log"));
  const int third_status = third.Wait(absl::Seconds(30));
  ASSERT_TRUE(WIFEXITED(third_status));
  EXPECT_NE(WEXITSTATUS(third_status), 0);
  EXPECT_THAT(testing::ReadFile(dir.Sub("third.log")),
              HasSubstr("metrics_listen: cannot listen on " + first.metrics_address()));
  // The first still serves.
  v1::ListTenantsResponse listed;
  EXPECT_TRUE(
      v1::CatalogService::NewStub(first.channel())->ListTenants(Ctx().get(), {}, &listed).ok());
}

TEST(StartupTest, TlsFilesAreCheckedAtStart) {
  testing::TempDir dir;
  TestPki pki(dir.path());
  pki.Issue("server", "localhost", "IP:127.0.0.1");
  pki.Issue("other", "other", "");
  auto start = [&](std::vector<std::string> args) {
    args.insert(args.end(),
                {"--listen", "127.0.0.1:0", "--data-dir", dir.Sub("data"), "--metrics-listen", ""});
    testing::ChildProcess p(CONSENTD_PATH, args, dir.Sub("log"));
    const int status = p.Wait(absl::Seconds(30));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    const std::string log = testing::ReadFile(dir.Sub("log"));
    std::remove(dir.Sub("log").c_str());
    return log;
  };
  const std::string cert = pki.Path("server.pem"), key = pki.Path("server-key.pem");
  EXPECT_THAT(start({"--tls-cert", cert, "--tls-key", pki.Path("other-key.pem"), "--tls-ca",
                     pki.Path("ca.pem")}),
              HasSubstr("tls.key: the key in"));
  EXPECT_THAT(start({"--tls-cert", cert, "--tls-key", key}), HasSubstr("tls.ca: client "));
  chmod(key.c_str(), 0644);
  EXPECT_THAT(start({"--tls-cert", cert, "--tls-key", key, "--tls-ca", pki.Path("ca.pem")}),
              HasSubstr("readable by every user"));
  chmod(key.c_str(), 0600);
  EXPECT_THAT(start({"--tls-cert", cert, "--tls-key", key, "--tls-ca", pki.Path("ca.pem"),
                     "--auth-policy-file", dir.Sub("absent.yaml")}),
              HasSubstr("policy file not found"));
  EXPECT_THAT(start({}), HasSubstr("--insecure"));
  // The other secrets consentd reads are held to the same rule.
  const std::string secret = dir.Sub("contact-key.secret");
  std::ofstream(secret) << "a-contact-key-secret-of-enough-bytes\n";
  chmod(secret.c_str(), 0644);
  EXPECT_THAT(start({"--insecure", "--contact-key-secret-file", secret}),
              HasSubstr("contact_key_secret_file: " + secret + " is readable by every user"));
  const std::string keyring = dir.Sub("links.yaml");
  std::ofstream(keyring)
      << "keys:\n  - id: k1\n    secret: \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==\"\n";
  chmod(keyring.c_str(), 0644);
  EXPECT_THAT(start({"--insecure", "--links-keyring-file", keyring}),
              HasSubstr("links.keyring_file: " + keyring + " is readable by every user"));
  // The receipt keyring, and every private key file it names.
  const std::string receipts = dir.Sub("receipts.yaml");
  std::ofstream(receipts) << "keys:\n  - id: r1\n    private_key_file: r1.pem\n";
  chmod(receipts.c_str(), 0644);
  EXPECT_THAT(start({"--insecure", "--receipts-keyring-file", receipts}),
              HasSubstr("receipts.keyring_file: " + receipts + " is readable by every user"));
  chmod(receipts.c_str(), 0600);
  int made = 0;
  testing::RunCommand(absl::StrCat("openssl genpkey -algorithm ed25519 -out ", dir.Sub("r1.pem")),
                      &made);
  ASSERT_EQ(made, 0);
  chmod(dir.Sub("r1.pem").c_str(), 0644);
  EXPECT_THAT(
      start({"--insecure", "--receipts-keyring-file", receipts}),
      HasSubstr("keys[0].private_key_file: " + dir.Sub("r1.pem") + " is readable by every user"));
}

}  // namespace
}  // namespace assent
