// What `assentctl import` reads: CSV (RFC 4180: a header row, quoted fields with "" for a quote,
// commas and newlines inside quotes, CRLF or LF line ends, an optional UTF-8 BOM) or JSON Lines
// (one object per line, the same field names), streamed record by record so that memory stays
// bounded however long the file; a column mapping that renames a file's columns to Assent's
// (docs/import/README.md); the rows as ImportRow messages; and the checkpoint file that says
// where an interrupted import resumes.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "assent/v1/import.pb.h"

namespace assent::ctl {

enum class ImportFormat { kCsv, kJsonLines };

// --format csv|jsonl, else by the file's extension (.jsonl, .ndjson: JSON Lines), else CSV.
absl::StatusOr<ImportFormat> ImportFormatFor(std::string_view path,
                                             std::optional<std::string> flag);

// Renames a file's columns to Assent's. The mapping file has one "FILE_COLUMN=ASSENT_COLUMN" per
// line; blank lines and lines starting with '#' are ignored. Columns not named keep their name.
class ColumnMapping {
 public:
  // INVALID_ARGUMENT naming the line for a line without '=' or with an empty side, or an unknown
  // Assent column.
  static absl::StatusOr<ColumnMapping> Parse(std::string_view text);
  std::string Canonical(std::string_view column) const;

 private:
  std::map<std::string, std::string, std::less<>> renames_;
};

// The columns a row may have (README "Importing consent from another system").
inline constexpr std::string_view kImportColumns[] = {
    "tenant",    "subject_id",   "email",          "phone",          "phone_region", "purpose",
    "channel",   "topic",        "state",          "effective_time", "expire_time",  "source",
    "origin",    "jurisdiction", "notice_version", "language",       "ip",           "user_agent",
    "reference", "confirm_time", "tcf_string",     "gpp_string",     "gpc",          "actor"};

// One record of the file.
struct ImportRecord {
  // The line the record starts on (1-based; in a CSV file the header is line 1).
  uint64_t line = 0;
  // The byte offset just past the record: where the next one starts.
  uint64_t end_offset = 0;
  // Assent column name -> value (empty values are left out).
  std::map<std::string, std::string, std::less<>> fields;
};

// A record that cannot become a row: where, which field ("record" for the record as a whole),
// and why.
struct RowProblem {
  uint64_t line = 0;
  std::string field;
  std::string reason;
};

class ImportReader {
 public:
  // Reads the header of a CSV file (`in` at offset 0). INVALID_ARGUMENT when a CSV header is
  // missing, has an empty or duplicate column, or a column that is not Assent's after mapping.
  static absl::StatusOr<std::unique_ptr<ImportReader>> Open(std::istream& in, ImportFormat format,
                                                            const ColumnMapping& mapping);
  // Continues at `offset` (past the header), whose record starts on `line` (from a checkpoint).
  absl::Status Resume(uint64_t offset, uint64_t line);
  // The next record into `record`, or a record that does not parse into `problem` (a CSV record
  // with the wrong number of fields or an unterminated quote, a line that is not a JSON object);
  // true while there was one, false at the end of the file.
  bool Next(ImportRecord& record, std::optional<RowProblem>& problem);
  // Where the next record starts: its byte offset and line.
  uint64_t offset() const { return offset_; }
  uint64_t next_line() const { return line_; }
  // Where the records start (past the header and any BOM).
  uint64_t data_offset() const { return data_offset_; }
  uint64_t data_line() const { return data_line_; }

 private:
  ImportReader(std::istream& in, ImportFormat format) : in_(in), format_(format) {}
  // One CSV record's fields; false at the end of input. `unterminated` when the file ended
  // inside a quoted field.
  bool ReadCsv(std::vector<std::string>& fields, bool& unterminated);
  bool ReadLine(std::string& line);
  int Get();

  std::istream& in_;
  const ImportFormat format_;
  ColumnMapping mapping_;
  std::vector<std::string> columns_;  // CSV: the header, mapped
  uint64_t offset_ = 0;
  uint64_t line_ = 1;
  uint64_t data_offset_ = 0;
  uint64_t data_line_ = 1;
};

// What a row takes from the command line when its file has no such column.
struct RowDefaults {
  std::string tenant;
  std::string source;
  std::string origin;
  std::string actor;
};

// The row of a record, keyed "<file_sha256>:<line>" (stable across runs of the same file).
// `tenant` receives the row's tenant. A RowProblem naming the column otherwise.
absl::StatusOr<v1::ImportRow> ToImportRow(const ImportRecord& record, const RowDefaults& defaults,
                                          std::string_view file_sha256, std::string& tenant,
                                          RowProblem& problem);

// Where an import stands: every row before `offset` (record starting line `line`) of the file
// with digest `file_sha256` has been answered by the server.
struct ImportCheckpoint {
  std::string file_sha256;
  uint64_t offset = 0;
  uint64_t line = 0;
  // Counts so far, for the summary of a resumed import.
  uint64_t rows = 0;
  uint64_t imported = 0;
  uint64_t already = 0;
  uint64_t rejected = 0;
  // The reject file's size when the checkpoint was written: a resumed import cuts it back to
  // this, so that rejects written after the checkpoint are not listed twice.
  uint64_t rejects_bytes = 0;
};
// nullopt when the file does not exist; DATA_LOSS when it is not a checkpoint.
absl::StatusOr<std::optional<ImportCheckpoint>> ReadCheckpoint(const std::string& path);
// Written beside `path`, flushed to disk and renamed over it: a crash leaves the old or the new.
absl::Status WriteCheckpoint(const std::string& path, const ImportCheckpoint& checkpoint);

// The lower-case hex SHA-256 of a file's content, read in chunks.
absl::StatusOr<std::string> FileSha256(const std::string& path);

// One line of a reject file (CSV: line,field,reason, quoted as needed).
std::string RejectLine(const RowProblem& problem);

}  // namespace assent::ctl
