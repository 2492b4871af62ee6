// assentctl import: streams a CSV or JSON Lines file through ImportService/ImportDecisions.
//
// The main thread reads records and writes request messages; a second thread reads the responses.
// Messages are answered in the order they were sent, so when a response arrives every record up
// to the end of its message has been answered: that is where the checkpoint moves. Records that
// do not parse travel with the next message sent, so that they are written to the reject file in
// file order and a resumed import neither loses nor repeats them.
#include <unistd.h>

#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "assentctl/actions.h"
#include "assentctl/import_file.h"
#include "common/status_macros.h"

namespace assent::ctl {
namespace {

constexpr int kDefaultBatchRows = 500;
constexpr int kMaxBatchRows = 1000;  // the API's limit per message
// Messages sent and not yet answered, at most (the server reads 8 ahead).
constexpr size_t kMaxInFlight = 16;
constexpr absl::Duration kPlainProgressEvery = absl::Seconds(5);

// A message sent and not yet answered: where its last record ends, and the records before it
// that did not parse.
struct Sent {
  uint64_t end_offset = 0;
  uint64_t next_line = 0;
  int rows = 0;
  std::vector<RowProblem> problems;
};

struct Counts {
  uint64_t rows = 0;  // records answered or rejected locally
  uint64_t imported = 0;
  uint64_t already = 0;
  uint64_t rejected = 0;
  uint64_t valid = 0;
};

std::string Clock(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);
  return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
}

class Importer {
 public:
  Importer(Session& session, bool dry_run, std::string checkpoint_path, std::ofstream& rejects,
           uint64_t file_bytes, ImportCheckpoint base)
      : session_(session),
        dry_run_(dry_run),
        checkpoint_path_(std::move(checkpoint_path)),
        rejects_(rejects),
        file_bytes_(file_bytes),
        checkpoint_(std::move(base)),
        tty_(isatty(STDERR_FILENO) == 1) {
    counts_.rows = checkpoint_.rows;
    counts_.imported = checkpoint_.imported;
    counts_.already = checkpoint_.already;
    counts_.rejected = checkpoint_.rejected;
    resumed_rows_ = counts_.rows;
    rejects_bytes_ = checkpoint_.rejects_bytes;
  }

  absl::Status Run(ImportReader& reader, const RowDefaults& defaults, const std::string& sha256,
                   int batch_rows) {
    grpc::ClientContext context;
    auto stream = session_.importer().ImportDecisions(&context);
    absl::Status answered;
    std::thread responses([&] {
      answered = ReadResponses(*stream);
      // The stream is of no more use; the server is told to stop at once.
      if (!answered.ok()) context.TryCancel();
    });

    v1::ImportDecisionsRequest request;
    request.set_dry_run(dry_run_);
    Sent sent;
    bool broken = false;
    // Sends the message; every record before (`end_offset`, `next_line`) is then in flight.
    auto send = [&](uint64_t end_offset, uint64_t next_line) -> bool {
      sent.end_offset = end_offset;
      sent.next_line = next_line;
      sent.rows = request.rows_size();
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Importer* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
              return self->in_flight_.size() < kMaxInFlight || self->done_;
            },
            this));
        if (done_) return false;
        in_flight_.push_back(std::move(sent));
      }
      sent = Sent();
      const bool ok = stream->Write(request);
      request.clear_rows();
      return ok;
    };
    ImportRecord record;
    std::optional<RowProblem> problem;
    std::string tenant;
    while (!broken) {
      const uint64_t before_offset = reader.offset();
      const uint64_t before_line = reader.next_line();
      if (!reader.Next(record, problem)) break;
      if (problem.has_value()) {
        sent.problems.push_back(*problem);
        continue;
      }
      RowProblem bad;
      absl::StatusOr<v1::ImportRow> row = ToImportRow(record, defaults, sha256, tenant, bad);
      if (!row.ok()) {
        sent.problems.push_back(bad);
        continue;
      }
      // A message holds one tenant's rows: a row of another tenant starts the next one.
      if (request.rows_size() > 0 && tenant != request.tenant()) {
        broken = !send(before_offset, before_line);
        if (broken) break;
      }
      request.set_tenant(tenant);
      *request.add_rows() = *std::move(row);
      if (request.rows_size() >= batch_rows) broken = !send(reader.offset(), reader.next_line());
    }
    if (!broken && request.rows_size() > 0) broken = !send(reader.offset(), reader.next_line());
    stream->WritesDone();
    responses.join();
    grpc::Status finished = stream->Finish();
    if (!answered.ok()) return answered;
    if (!finished.ok()) return CallFailure(finished);
    {
      absl::MutexLock lock(&mu_);
      if (!in_flight_.empty()) {
        return absl::DataLossError("the import stream ended before every row was answered");
      }
    }
    // Records that did not parse after the last message sent.
    RETURN_IF_ERROR(Answered(sent, nullptr));
    Progress(/*last=*/true);
    return absl::OkStatus();
  }

  const Counts& counts() const { return counts_; }
  uint64_t resumed_rows() const { return resumed_rows_; }
  absl::Duration elapsed() const { return absl::Now() - start_; }

 private:
  absl::Status ReadResponses(
      grpc::ClientReaderWriterInterface<v1::ImportDecisionsRequest, v1::ImportDecisionsResponse>&
          stream) {
    v1::ImportDecisionsResponse response;
    absl::Status result;
    while (stream.Read(&response)) {
      Sent sent;
      {
        absl::MutexLock lock(&mu_);
        if (in_flight_.empty()) {
          result = absl::DataLossError("the server answered a message that was not sent");
          break;
        }
        sent = std::move(in_flight_.front());
        in_flight_.pop_front();
      }
      if (response.results_size() != sent.rows) {
        result = absl::DataLossError(absl::StrCat("the server answered ", response.results_size(),
                                                  " of a message's ", sent.rows, " rows"));
        break;
      }
      if (absl::Status s = Answered(sent, &response); !s.ok() && result.ok()) result = s;
      Progress(/*last=*/false);
    }
    absl::MutexLock lock(&mu_);
    done_ = true;
    return result;
  }

  // Counts a message's answers, writes its rejects and moves the checkpoint past it.
  absl::Status Answered(const Sent& sent, const v1::ImportDecisionsResponse* response) {
    for (const RowProblem& p : sent.problems) {
      Reject(p);
      ++counts_.rows;
      ++counts_.rejected;
    }
    if (response != nullptr) {
      for (const v1::ImportRowResult& r : response->results()) {
        ++counts_.rows;
        switch (r.outcome()) {
          case v1::ImportRowResult::IMPORTED:
            ++counts_.imported;
            break;
          case v1::ImportRowResult::ALREADY_IMPORTED:
            ++counts_.already;
            break;
          case v1::ImportRowResult::VALID:
            ++counts_.valid;
            break;
          default:
            ++counts_.rejected;
            Reject({r.line(), r.field().empty() ? "record" : r.field(),
                    absl::StrCat(r.code(), ": ", r.message())});
        }
      }
    }
    if (response == nullptr) return absl::OkStatus();
    checkpoint_.offset = sent.end_offset;  // also what the progress shows
    if (dry_run_) return absl::OkStatus();
    rejects_.flush();
    checkpoint_.rejects_bytes = rejects_bytes_;
    checkpoint_.line = sent.next_line;
    checkpoint_.rows = counts_.rows;
    checkpoint_.imported = counts_.imported;
    checkpoint_.already = counts_.already;
    checkpoint_.rejected = counts_.rejected;
    return WriteCheckpoint(checkpoint_path_, checkpoint_);
  }

  void Reject(const RowProblem& problem) {
    const std::string line = RejectLine(problem);
    rejects_ << line;
    rejects_bytes_ += line.size();
  }

  void Progress(bool last) {
    const absl::Time now = absl::Now();
    if (!last && !tty_ && now - last_progress_ < kPlainProgressEvery) return;
    if (!last && tty_ && now - last_progress_ < absl::Milliseconds(200)) return;
    last_progress_ = now;
    const double seconds = std::max(1e-3, absl::ToDoubleSeconds(now - start_));
    const double rate = static_cast<double>(counts_.rows - resumed_rows_) / seconds;
    const double done = file_bytes_ == 0 ? 1.0
                                         : static_cast<double>(checkpoint_.offset) /
                                               static_cast<double>(file_bytes_);
    const double fraction = last ? 1.0 : std::min(1.0, done);
    std::string eta = "--:--:--";
    if (fraction > 0 && fraction < 1) {
      eta = Clock(absl::Seconds(seconds * (1 - fraction) / fraction));
    }
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = static_cast<int>(fraction * kWidth);
      std::fprintf(stderr, "\r[%s%s] %3.0f%% %llu rows %.0f rows/s ETA %s ",
                   std::string(filled, '#').c_str(), std::string(kWidth - filled, '-').c_str(),
                   fraction * 100, static_cast<unsigned long long>(counts_.rows), rate,
                   eta.c_str());
      if (last) std::fputc('\n', stderr);
    } else {
      std::fprintf(stderr, "assentctl: import: %llu rows, %.0f rows/s, %.0f%% of the file\n",
                   static_cast<unsigned long long>(counts_.rows), rate, fraction * 100);
    }
    std::fflush(stderr);
  }

  Session& session_;
  const bool dry_run_;
  const std::string checkpoint_path_;
  std::ofstream& rejects_;
  const uint64_t file_bytes_;
  ImportCheckpoint checkpoint_;  // the response thread's once Run started
  const bool tty_;
  Counts counts_;
  uint64_t resumed_rows_ = 0;
  uint64_t rejects_bytes_ = 0;  // the reject file's size, header included
  absl::Time start_ = absl::Now();
  absl::Time last_progress_ = absl::InfinitePast();
  absl::Mutex mu_;
  std::deque<Sent> in_flight_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

absl::StatusOr<int> Import(Session& session, const Args& args) {
  ASSIGN_OR_RETURN(std::string path, SingleOperand(args, "FILE"));
  ASSIGN_OR_RETURN(ImportFormat format, ImportFormatFor(path, args.Get("format")));
  ColumnMapping mapping;
  if (std::optional<std::string> file = args.Get("mapping"); file.has_value()) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(*file));
    ASSIGN_OR_RETURN(mapping, ColumnMapping::Parse(text));
  }
  int batch_rows = kDefaultBatchRows;
  if (std::optional<std::string> batch = args.Get("batch"); batch.has_value()) {
    ASSIGN_OR_RETURN(uint32_t n, ParseUint32("batch", *batch));
    if (n == 0 || n > kMaxBatchRows) {
      return absl::InvalidArgumentError(absl::StrCat("--batch: must be 1..", kMaxBatchRows));
    }
    batch_rows = static_cast<int>(n);
  }
  const bool dry_run = args.Switch("dry-run");
  const std::string rejects_path = args.GetOr("rejects", path + ".rejects.csv");
  const std::string checkpoint_path = args.GetOr("checkpoint", path + ".checkpoint");
  RowDefaults defaults{
      session.options().tenant, args.GetOr("source", "import"),
      args.GetOr("origin", absl::StrCat("file:", std::filesystem::path(path).filename().string())),
      args.GetOr("actor", "assentctl-import")};

  ASSIGN_OR_RETURN(std::string sha256, FileSha256(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::error_code ec;
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  ASSIGN_OR_RETURN(std::unique_ptr<ImportReader> reader, ImportReader::Open(in, format, mapping));

  ImportCheckpoint base{sha256, reader->data_offset(), reader->data_line()};
  bool resuming = false;
  if (!dry_run) {
    ASSIGN_OR_RETURN(std::optional<ImportCheckpoint> saved, ReadCheckpoint(checkpoint_path));
    if (saved.has_value()) {
      if (saved->file_sha256 != sha256) {
        return absl::FailedPreconditionError(absl::StrCat(
            checkpoint_path,
            " is the checkpoint of a file with other content; delete it to import this file "
            "from its start (rows already imported from the other content are imported again "
            "only if they changed lines)"));
      }
      RETURN_IF_ERROR(reader->Resume(saved->offset, saved->line));
      base = *saved;
      resuming = true;
      session.Warn(absl::StrCat("resuming ", path, " at line ", saved->line, " (", saved->rows,
                                " rows done)"));
    }
  }
  if (resuming) {
    // Rejects written after the checkpoint belong to rows that are read again now.
    std::filesystem::resize_file(rejects_path, base.rejects_bytes, ec);
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("--rejects: cannot resume ", rejects_path, ": ", ec.message()));
    }
  }
  std::ofstream rejects(rejects_path, resuming ? std::ios::app : std::ios::trunc);
  if (!rejects)
    return absl::UnavailableError(absl::StrCat("--rejects: cannot write ", rejects_path));
  if (!resuming) {
    constexpr std::string_view kHeader = "line,field,reason\n";
    rejects << kHeader;
    base.rejects_bytes = kHeader.size();
  }

  Importer importer(session, dry_run, checkpoint_path, rejects, file_bytes, base);
  absl::Status run = importer.Run(*reader, defaults, sha256, batch_rows);
  rejects.close();
  if (!run.ok()) {
    if (!dry_run)
      session.Warn(
          absl::StrCat("stopped; run the same command again to resume from ", checkpoint_path));
    return run;
  }
  // Done: a later run of the same file goes through every row again, each answered "already
  // imported" by its row key.
  if (!dry_run) std::remove(checkpoint_path.c_str());
  const Counts& c = importer.counts();
  const double seconds = std::max(1e-3, absl::ToDoubleSeconds(importer.elapsed()));
  session.Print(absl::StrFormat(
      "%s %s: %d rows read, %d %s, %d already imported, %d rejected%s; %.1f s, %.0f rows/s\n",
      dry_run ? "validated" : "imported", path, c.rows, dry_run ? c.valid : c.imported,
      dry_run ? "valid" : "imported", c.already, c.rejected,
      c.rejected > 0 ? absl::StrCat(" (see ", rejects_path, ")") : std::string(), seconds,
      static_cast<double>(c.rows - importer.resumed_rows()) / seconds));
  return c.rejected > 0 ? kExitNegative : kExitOk;
}

}  // namespace assent::ctl
