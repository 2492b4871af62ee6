// assentctl import's file side: the CSV and JSON Lines readers (quoting, embedded commas and
// newlines, BOM, CRLF, line numbers and offsets, resuming), the column mapping, rows, and the
// checkpoint file.
#include "assentctl/import_file.h"

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_dir.h"

namespace assent::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

struct Read {
  std::vector<ImportRecord> records;
  std::vector<RowProblem> problems;
};

Read ReadAll(ImportReader& reader) {
  Read out;
  ImportRecord record;
  std::optional<RowProblem> problem;
  while (reader.Next(record, problem)) {
    if (problem.has_value()) {
      out.problems.push_back(*problem);
    } else {
      out.records.push_back(record);
    }
  }
  return out;
}

TEST(ImportFileTest, CsvQuotedFieldsWithCommasQuotesAndNewlinesBomAndCrlf) {
  std::istringstream in(
      "\xEF\xBB\xBFsubject_id,purpose,user_agent\r\n"
      "s1,news,\"Mozilla/5.0, \"\"quoted\"\"\"\r\n"
      "s2,news,\"two\r\nlines\"\r\n"
      "\r\n"
      "s3,news,plain\n");
  auto reader = ImportReader::Open(in, ImportFormat::kCsv, ColumnMapping());
  ASSERT_TRUE(reader.ok()) << reader.status();
  const Read read = ReadAll(**reader);
  EXPECT_TRUE(read.problems.empty());
  ASSERT_EQ(read.records.size(), 3u);
  EXPECT_EQ(read.records[0].line, 2u);
  EXPECT_THAT(read.records[0].fields, ElementsAre(Pair("purpose", "news"), Pair("subject_id", "s1"),
                                                  Pair("user_agent", "Mozilla/5.0, \"quoted\"")));
  EXPECT_EQ(read.records[1].line, 3u);
  EXPECT_EQ(read.records[1].fields.at("user_agent"), "two\r\nlines");
  // The quoted newline moved the line count on; the blank line 5 was skipped.
  EXPECT_EQ(read.records[2].line, 6u);
  EXPECT_EQ(read.records[2].fields.at("subject_id"), "s3");
}

TEST(ImportFileTest, CsvRecordsThatDoNotParseAreProblemsAndReadingGoesOn) {
  std::istringstream in(
      "subject_id,purpose\n"
      "s1,news,extra\n"
      "s2,news\n"
      "s3,\"never closed\n");
  auto reader = ImportReader::Open(in, ImportFormat::kCsv, ColumnMapping());
  ASSERT_TRUE(reader.ok());
  const Read read = ReadAll(**reader);
  ASSERT_EQ(read.records.size(), 1u);
  EXPECT_EQ(read.records[0].fields.at("subject_id"), "s2");
  ASSERT_EQ(read.problems.size(), 2u);
  EXPECT_EQ(read.problems[0].line, 2u);
  EXPECT_EQ(read.problems[0].field, "record");
  EXPECT_EQ(read.problems[0].reason, "has 3 fields, the header 2");
  EXPECT_EQ(read.problems[1].line, 4u);
  EXPECT_EQ(read.problems[1].reason, "a quoted field is not closed before the end");
}

TEST(ImportFileTest, CsvHeaderMustNameAssentColumnsOnceUnlessMapped) {
  std::istringstream unknown("Contact ID,purpose\n");
  EXPECT_EQ(ImportReader::Open(unknown, ImportFormat::kCsv, ColumnMapping()).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::istringstream twice("subject_id,subject_id\n");
  EXPECT_EQ(ImportReader::Open(twice, ImportFormat::kCsv, ColumnMapping()).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto mapping = ColumnMapping::Parse("# CRM\nContact ID = subject_id\n\nList=purpose\n");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  std::istringstream mapped("Contact ID,List\nc-1,news\n");
  auto reader = ImportReader::Open(mapped, ImportFormat::kCsv, *mapping);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const Read read = ReadAll(**reader);
  ASSERT_EQ(read.records.size(), 1u);
  EXPECT_THAT(read.records[0].fields,
              ElementsAre(Pair("purpose", "news"), Pair("subject_id", "c-1")));
}

TEST(ImportFileTest, MappingRefusesBadLinesAndUnknownTargets) {
  EXPECT_EQ(ColumnMapping::Parse("no equals sign\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ColumnMapping::Parse("a=\n").status().code(), absl::StatusCode::kInvalidArgument);
  auto bad = ColumnMapping::Parse("x=y\nEmail=shoe_size\n");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("line 1"));
}

TEST(ImportFileTest, JsonLinesWithMappingNumbersAndBadLines) {
  auto mapping = ColumnMapping::Parse("List=purpose\n");
  ASSERT_TRUE(mapping.ok());
  std::istringstream in(
      "\xEF\xBB\xBF{\"subject_id\":\"s1\",\"List\":\"news\",\"notice_version\":2,\"gpc\":true,"
      "\"ip\":null}\r\n"
      "not json\n"
      "\n"
      "{\"subject_id\":\"s2\",\"shoe_size\":\"9\"}\n"
      "{\"subject_id\":{\"nested\":1}}\n");
  auto reader = ImportReader::Open(in, ImportFormat::kJsonLines, *mapping);
  ASSERT_TRUE(reader.ok());
  const Read read = ReadAll(**reader);
  ASSERT_EQ(read.records.size(), 1u);
  EXPECT_EQ(read.records[0].line, 1u);
  EXPECT_THAT(read.records[0].fields,
              ElementsAre(Pair("gpc", "true"), Pair("notice_version", "2"), Pair("purpose", "news"),
                          Pair("subject_id", "s1")));
  ASSERT_EQ(read.problems.size(), 3u);
  EXPECT_EQ(read.problems[0].line, 2u);
  EXPECT_EQ(read.problems[1].line, 4u);
  EXPECT_EQ(read.problems[1].field, "shoe_size");
  EXPECT_EQ(read.problems[2].line, 5u);
  EXPECT_EQ(read.problems[2].field, "subject_id");
}

TEST(ImportFileTest, ResumeContinuesAtTheOffsetOfARecord) {
  const std::string text = "subject_id,purpose\ns1,a\ns2,\"b\nb\"\ns3,c\n";
  std::istringstream first(text);
  auto reader = ImportReader::Open(first, ImportFormat::kCsv, ColumnMapping());
  ASSERT_TRUE(reader.ok());
  ImportRecord record;
  std::optional<RowProblem> problem;
  ASSERT_TRUE((*reader)->Next(record, problem));
  ASSERT_TRUE((*reader)->Next(record, problem));
  EXPECT_EQ(record.fields.at("subject_id"), "s2");
  const uint64_t offset = (*reader)->offset(), line = (*reader)->next_line();
  EXPECT_EQ(line, 5u);

  std::istringstream second(text);
  auto resumed = ImportReader::Open(second, ImportFormat::kCsv, ColumnMapping());
  ASSERT_TRUE(resumed.ok());
  ASSERT_TRUE((*resumed)->Resume(offset, line).ok());
  const Read rest = ReadAll(**resumed);
  ASSERT_EQ(rest.records.size(), 1u);
  EXPECT_EQ(rest.records[0].fields.at("subject_id"), "s3");
  EXPECT_EQ(rest.records[0].line, 5u);
}

TEST(ImportFileTest, RowsCarryTheirKeyTimeOriginAndNameTheBadColumn) {
  ImportRecord record;
  record.line = 7;
  record.fields = {{"email", "Ana@Example.com"},
                   {"purpose", "news"},
                   {"channel", "email"},
                   {"state", "opt-in"},
                   {"effective_time", "2021-03-01T09:15:00Z"},
                   {"ip", "203.0.113.7"}};
  const RowDefaults defaults{"acme", "import", "file:crm.csv", "assentctl-import"};
  std::string tenant;
  RowProblem problem;
  auto row = ToImportRow(record, defaults, "abc", tenant, problem);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(tenant, "acme");
  EXPECT_EQ(row->row_key(), "abc:7");
  EXPECT_EQ(row->line(), 7u);
  const v1::RecordDecisionsRequest& r = row->decisions();
  EXPECT_EQ(r.target().contact_point().type(), v1::CONTACT_EMAIL);
  EXPECT_EQ(r.decisions(0).state(), v1::GRANTED);
  EXPECT_EQ(r.decisions(0).channel(), v1::EMAIL);
  EXPECT_EQ(r.import().original_effective_time().seconds(), 1614590100);
  EXPECT_EQ(r.import().origin(), "file:crm.csv");
  EXPECT_EQ(r.evidence().ip_address(), "203.0.113.7");
  EXPECT_EQ(r.source(), "import");

  for (const auto& [field, value] :
       std::vector<std::pair<std::string, std::string>>{{"state", "maybe"},
                                                        {"effective_time", "last week"},
                                                        {"channel", "pigeon"},
                                                        {"notice_version", "x"}}) {
    ImportRecord bad = record;
    bad.fields[field] = value;
    EXPECT_FALSE(ToImportRow(bad, defaults, "abc", tenant, problem).ok()) << field;
    EXPECT_EQ(problem.field, field);
    EXPECT_EQ(problem.line, 7u);
  }
  ImportRecord no_target = record;
  no_target.fields.erase("email");
  EXPECT_FALSE(ToImportRow(no_target, defaults, "abc", tenant, problem).ok());
  EXPECT_EQ(problem.field, "subject_id");
}

TEST(ImportFileTest, CheckpointRoundTripsAndRefusesOtherFiles) {
  testing::TempDir dir;
  const std::string path = dir.Sub("file.checkpoint");
  auto none = ReadCheckpoint(path);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ImportCheckpoint c{std::string(64, 'a'), 1234, 56, 50, 40, 5, 5, 99};
  ASSERT_TRUE(WriteCheckpoint(path, c).ok());
  auto read = ReadCheckpoint(path);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->file_sha256, c.file_sha256);
  EXPECT_EQ((*read)->offset, 1234u);
  EXPECT_EQ((*read)->line, 56u);
  EXPECT_EQ((*read)->rows, 50u);
  EXPECT_EQ((*read)->imported, 40u);
  EXPECT_EQ((*read)->already, 5u);
  EXPECT_EQ((*read)->rejected, 5u);
  EXPECT_EQ((*read)->rejects_bytes, 99u);
  // Overwritten by rename: no temporary file is left behind.
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
  std::ofstream(path, std::ios::trunc) << "something else\n";
  EXPECT_EQ(ReadCheckpoint(path).status().code(), absl::StatusCode::kDataLoss);
}

TEST(ImportFileTest, RejectLinesAreCsv) {
  EXPECT_EQ(RejectLine({12, "state", "'x, y' is not \"GRANTED\""}),
            "12,state,\"'x, y' is not \"\"GRANTED\"\"\"\n");
  EXPECT_EQ(RejectLine({3, "record", "plain"}), "3,record,plain\n");
}

}  // namespace
}  // namespace assent::ctl
