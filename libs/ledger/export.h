// A subject export in progress (Ledger::ExportSubject): the header read up front, then the
// history walked in bounded pages, all from one RocksDB snapshot taken when the export began, so
// that the header, the pages and the trailer agree even while the subject keeps changing. Only
// one page of decoded records exists at a time; a page re-seeks from the next sequence, so no
// iterator stays open between pages.
//
// Thread safety: one thread at a time (a gRPC reactor calls it from its callbacks in turn). The
// export holds a snapshot of the store and must be destroyed before the store is closed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "assent/v1/export.pb.h"
#include "store/store.h"

namespace assent::ledger {

class Ledger;

class SubjectExport {
 public:
  ~SubjectExport();
  SubjectExport(const SubjectExport&) = delete;
  SubjectExport& operator=(const SubjectExport&) = delete;

  // The first chunk's content.
  const v1::ExportHeader& header() const { return header_; }
  // Replaces `page` with the next up to page_size() records, in sequence order, verifying the
  // chain as it goes. False (and `page` empty) once every record was returned. Errors:
  // UNAVAILABLE on store errors, or the error of a record that does not parse.
  absl::StatusOr<bool> NextPage(v1::ExportHistoryPage& page);
  // Records per page (the request's page_size, or its default).
  int page_size() const { return page_size_; }
  // The last chunk's content; complete once NextPage returned false.
  v1::ExportTrailer Trailer() const;
  // The most decoded history records this export held at once (what bounds its memory).
  size_t max_records_held() const { return max_records_held_; }

 private:
  friend class Ledger;
  SubjectExport(const Ledger& ledger, const store::Store& store, const rocksdb::Snapshot* snapshot)
      : ledger_(ledger), store_(store), snapshot_(snapshot) {}
  // Checks the next record against the chain so far (the rule of ledger::VerifyChain).
  void Verify(uint64_t key_sequence, const v1::HistoryRecord& record);
  void Broken(uint64_t sequence, std::string problem);

  const Ledger& ledger_;  // opens sealed evidence
  const store::Store& store_;
  const rocksdb::Snapshot* snapshot_;
  v1::ExportHeader header_;
  std::string entity_;
  int page_size_ = 0;
  uint64_t next_sequence_ = 1;  // the next record to read
  bool done_ = false;
  size_t max_records_held_ = 0;
  uint64_t records_sent_ = 0;
  // Incremental verification.
  std::string previous_hash_;
  uint64_t records_checked_ = 0;
  uint64_t redacted_ = 0;
  bool broken_ = false;
  uint64_t first_broken_ = 0;
  std::string problem_;
};

}  // namespace assent::ledger
