// assentctl export against a fake ExportService on port 0: the three formats, the file written
// only when the export is whole, exit 1 for a chain that does not verify, usage errors.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "assent/v1/export.grpc.pb.h"
#include "assentctl/cli.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/temp_dir.h"

namespace assent {
namespace {

using ::testing::HasSubstr;
using Words = std::vector<std::string>;

// Streams a header, one page of two records and a trailer. Subject "broken": the trailer says the
// chain does not verify; "cut": the stream ends OK without a trailer; "missing": NOT_FOUND.
class FakeExport final : public v1::ExportService::Service {
 public:
  grpc::Status ExportSubject(grpc::ServerContext*, const v1::ExportSubjectRequest* request,
                             grpc::ServerWriter<v1::ExportChunk>* writer) override {
    const std::string& subject = request->subject_id();
    if (subject == "missing") return {grpc::StatusCode::NOT_FOUND, "subject not found: missing"};
    v1::ExportChunk chunk;
    chunk.mutable_header()->set_tenant(request->tenant());
    chunk.mutable_header()->set_subject_id(subject);
    chunk.mutable_header()->set_history_length(2);
    writer->Write(chunk);
    chunk.Clear();
    for (int seq = 1; seq <= 2; ++seq) {
      v1::HistoryRecord* r = chunk.mutable_history()->add_records()->mutable_record();
      r->set_sequence(static_cast<uint64_t>(seq));
      r->set_kind(v1::DECISIONS_RECORDED);
      v1::ConsentRecord* after = r->add_decisions()->mutable_after();
      after->set_record_id(absl::StrCat(seq, "-0"));
      after->set_purpose_id("marketing.newsletter");
      after->set_channel(v1::EMAIL);
      after->set_state(seq == 1 ? v1::GRANTED : v1::WITHDRAWN);
    }
    writer->Write(chunk);
    if (subject == "cut") return grpc::Status::OK;
    chunk.Clear();
    chunk.mutable_trailer()->set_record_count(2);
    chunk.mutable_trailer()->set_chain_verified(subject != "broken");
    if (subject == "broken") {
      chunk.mutable_trailer()->set_first_broken_sequence(2);
      chunk.mutable_trailer()->set_problem("hash does not match the record's contents");
    }
    writer->Write(chunk);
    return grpc::Status::OK;
  }
};

class ExportCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    env_ = {{"ASSENT_SERVER", absl::StrCat("127.0.0.1:", port)}, {"ASSENT_TENANT", "acme"}};
  }
  void TearDown() override { server_->Shutdown(); }

  struct Result {
    int exit;
    std::string out;
    std::string err;
  };
  Result Invoke(const Words& argv) {
    std::ostringstream out, err;
    const int exit = ctl::Run(argv, env_, out, err);
    return {exit, out.str(), err.str()};
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static bool Exists(const std::string& path) { return std::ifstream(path).good(); }

  FakeExport fake_;
  std::unique_ptr<grpc::Server> server_;
  ctl::Environment env_;
  testing::TempDir dir_;
};

TEST_F(ExportCommandTest, JsonLinesToStandardOutputByDefault) {
  Result r = Invoke({"export", "--subject", "cust-42"});
  ASSERT_EQ(r.exit, 0) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["header"]["subjectId"], "cust-42");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["history"]["records"].size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[2])["trailer"]["chainVerified"], true);
}

TEST_F(ExportCommandTest, ProtoIsLengthDelimitedChunksInTheFile) {
  const std::string path = dir_.Sub("cust-42.pb");
  Result r = Invoke({"export", "--subject", "cust-42", "--format", "proto", "--output", path});
  ASSERT_EQ(r.exit, 0) << r.err;
  EXPECT_EQ(r.out, "");
  const std::string bytes = Read(path);
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream in(&raw);
  std::vector<v1::ExportChunk> chunks;
  uint32_t size = 0;
  while (in.ReadVarint32(&size)) {
    auto limit = in.PushLimit(static_cast<int>(size));
    ASSERT_TRUE(chunks.emplace_back().ParseFromCodedStream(&in));
    in.PopLimit(limit);
  }
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_TRUE(chunks[0].has_header());
  EXPECT_EQ(chunks[1].history().records_size(), 2);
  EXPECT_TRUE(chunks[2].trailer().chain_verified());
  EXPECT_FALSE(Exists(path + ".partial"));
}

TEST_F(ExportCommandTest, Iso27560WritesOneRecordPerDecision) {
  Result r = Invoke({"export", "--subject", "cust-42", "--format", "iso27560"});
  ASSERT_EQ(r.exit, 0) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["record_id"], "acme/cust-42/1-0");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["event"][0]["event_state"], "withdrawn");
  // This fake serves no catalog: the lawful basis is left out, not guessed, and said once.
  EXPECT_FALSE(nlohmann::json::parse(lines[0])["purposes"][0].contains("lawful_basis"));
  EXPECT_TRUE(nlohmann::json::parse(lines[0])["collection_evidence"].is_object());
  EXPECT_THAT(r.err, HasSubstr("cannot read the catalog"));
  EXPECT_EQ(r.err.find("cannot read the catalog"), r.err.rfind("cannot read the catalog"));
}

TEST_F(ExportCommandTest, AChainThatDoesNotVerifyExitsOneButKeepsTheExport) {
  const std::string path = dir_.Sub("broken.jsonl");
  Result r = Invoke({"export", "--subject", "broken", "--output", path});
  EXPECT_EQ(r.exit, 1);
  EXPECT_THAT(r.err, HasSubstr("does not verify at sequence 2"));
  const std::string written = Read(path);
  EXPECT_EQ(std::count(written.begin(), written.end(), '\n'), 3);
}

TEST_F(ExportCommandTest, AnIncompleteOrFailedExportLeavesNoFile) {
  const std::string path = dir_.Sub("cut.jsonl");
  Result cut = Invoke({"export", "--subject", "cut", "--output", path});
  EXPECT_EQ(cut.exit, 2);
  EXPECT_THAT(cut.err, HasSubstr("without its trailer"));
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(Exists(path + ".partial"));
  Result missing = Invoke({"export", "--subject", "missing", "--output", path});
  EXPECT_EQ(missing.exit, 2);
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND: subject not found: missing"));
  EXPECT_FALSE(Exists(path));
}

TEST_F(ExportCommandTest, UsageErrors) {
  Result no_subject = Invoke({"export"});
  EXPECT_EQ(no_subject.exit, 64);
  EXPECT_THAT(no_subject.err, HasSubstr("--subject is required"));
  Result bad_format = Invoke({"export", "--subject", "s", "--format", "xml"});
  EXPECT_EQ(bad_format.exit, 64);
  EXPECT_THAT(bad_format.err, HasSubstr("--format: must be proto, json or iso27560"));
  Result help = Invoke({"export", "--help"});
  EXPECT_THAT(help.out, HasSubstr("Export everything held about a subject"));
}

}  // namespace
}  // namespace assent
