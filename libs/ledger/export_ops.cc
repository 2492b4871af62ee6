// Subject export: the state and the linked contact points' states, then the history in bounded
// pages, all read from one snapshot, with the hash chain verified while the pages stream.
#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "core/validate.h"
#include "ledger/export.h"
#include "ledger/history.h"
#include "ledger/ledger.h"
#include "store/keys.h"

namespace assent::ledger {
namespace {

constexpr int kDefaultExportPage = 100;
constexpr int kMaxExportPage = 1000;

// Opens the sealed evidence (Ledger::Reveal) of what the export returns.
// Called once per state and once per history record, after the chain was checked against the
// stored bytes (the hash covers what is stored, sealed) and before the message leaves the ledger.
absl::Status RevealForExport(const Ledger& ledger, std::string_view tenant,
                             v1::SubjectState& state) {
  v1::TargetRef target;
  target.set_subject_id(state.subject_id());
  return ledger.Reveal(tenant, target, *state.mutable_decisions());
}
absl::Status RevealForExport(const Ledger& ledger, std::string_view tenant,
                             v1::ContactPointState& state) {
  v1::TargetRef target;
  *target.mutable_contact() = state.contact();
  return ledger.Reveal(tenant, target, *state.mutable_decisions());
}
absl::Status RevealForExport(const Ledger& ledger, std::string_view, v1::HistoryRecord& record) {
  return ledger.Reveal(record);
}

rocksdb::ReadOptions AtSnapshot(const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  return options;
}

template <typename State>
absl::StatusOr<std::optional<State>> ReadAt(const store::Store& store,
                                            const rocksdb::Snapshot* snapshot, store::Cf cf,
                                            const std::string& key) {
  std::string value;
  rocksdb::Status s = store.db()->Get(AtSnapshot(snapshot), store.Handle(cf), key, &value);
  if (s.IsNotFound()) return std::optional<State>();
  if (!s.ok()) return StorageUnavailable(s.ToString());
  State state;
  if (!state.ParseFromString(value)) return Corrupt(store::CfName(cf));
  return std::optional<State>(std::move(state));
}

}  // namespace

SubjectExport::~SubjectExport() { store_.db()->ReleaseSnapshot(snapshot_); }

absl::StatusOr<std::unique_ptr<SubjectExport>> Ledger::ExportSubject(
    const v1::ExportSubjectRequest& request) const {
  RETURN_IF_ERROR(RequireTenant(*catalog_.Snapshot(), "tenant", request.tenant()));
  RETURN_IF_ERROR(core::ValidateSubjectId("subject_id", request.subject_id()));
  if (request.page_size() > static_cast<uint32_t>(kMaxExportPage)) {
    return InvalidField("page_size", absl::StrCat("must be at most ", kMaxExportPage));
  }
  const absl::Time now = clock_.Now();
  std::unique_ptr<SubjectExport> out(new SubjectExport(*this, store_, store_.db()->GetSnapshot()));
  out->page_size_ =
      request.page_size() == 0 ? kDefaultExportPage : static_cast<int>(request.page_size());
  out->entity_ = store::SubjectEntity(request.subject_id());
  ASSIGN_OR_RETURN(auto state, ReadAt<v1::SubjectState>(
                                   store_, out->snapshot_, store::Cf::kSubjects,
                                   store::SubjectKey(request.tenant(), request.subject_id())));
  if (!state.has_value()) return NotFound("subject", request.subject_id());
  v1::ExportHeader& header = out->header_;
  header.set_tenant(request.tenant());
  header.set_subject_id(request.subject_id());
  *header.mutable_export_time() = ToProto(now);
  header.set_history_length(state->sequence());
  RETURN_IF_ERROR(RevealForExport(*this, request.tenant(), *state));
  for (const v1::ContactRef& ref : state->contacts()) {
    ASSIGN_OR_RETURN(auto contact,
                     ReadAt<v1::ContactPointState>(store_, out->snapshot_, store::Cf::kContacts,
                                                   store::ContactKey(request.tenant(), ref)));
    // A link names a stored contact point; one missing is shown by its absence, not an error.
    if (!contact.has_value()) continue;
    RETURN_IF_ERROR(RevealForExport(*this, request.tenant(), *contact));
    *header.add_contacts() = *std::move(contact);
  }
  *header.mutable_subject() = *std::move(state);
  return out;
}

absl::StatusOr<bool> SubjectExport::NextPage(v1::ExportHistoryPage& page) {
  page.Clear();
  if (done_) return false;
  const uint64_t last = header_.history_length();
  const std::string prefix = store::HistoryPrefix(header_.tenant(), entity_);
  std::unique_ptr<rocksdb::Iterator> it(
      store_.db()->NewIterator(AtSnapshot(snapshot_), store_.Handle(store::Cf::kHistory)));
  it->Seek(store::HistoryKey(header_.tenant(), entity_, next_sequence_));
  for (; it->Valid() && it->key().starts_with(prefix) && page.records_size() < page_size_;
       it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    const std::optional<uint64_t> sequence = store::HistoryKeySequence(key);
    if (!sequence.has_value()) {
      Broken(next_sequence_, "malformed history key");
      break;
    }
    if (*sequence > last) break;  // cannot happen under the snapshot; the state says where it ends
    v1::HistoryRecord record;
    if (!record.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Corrupt("history record");
    }
    Verify(*sequence, record);
    RETURN_IF_ERROR(RevealForExport(ledger_, header_.tenant(), record));
    *page.add_records()->mutable_record() = std::move(record);
    next_sequence_ = *sequence + 1;
    ++records_sent_;
  }
  if (!it->status().ok()) return StorageUnavailable(it->status().ToString());
  max_records_held_ = std::max(max_records_held_, static_cast<size_t>(page.records_size()));
  if (page.records_size() == 0) {
    done_ = true;
    if (records_checked_ != last) {
      Broken(records_checked_ + 1, absl::StrCat("history ends at sequence ", records_checked_,
                                                " but the state is at ", last));
    } else if (previous_hash_ != header_.subject().chain_head()) {
      Broken(last, "the state's chain head is not the last record's hash");
    }
    return false;
  }
  return true;
}

void SubjectExport::Verify(uint64_t key_sequence, const v1::HistoryRecord& record) {
  const uint64_t expected = records_checked_ + 1;
  if (key_sequence != expected) {
    Broken(expected,
           absl::StrCat("sequence ", expected, " is missing (next is ", key_sequence, ")"));
  } else if (record.sequence() != key_sequence) {
    Broken(key_sequence, absl::StrCat("record says sequence ", record.sequence()));
  } else if (record.previous_hash() != previous_hash_) {
    Broken(key_sequence, "previous_hash is not the hash of the preceding record");
  } else if (record.personal_data_redacted()) {
    ++redacted_;  // its identifying evidence was removed: the links are all that can be checked
  } else if (HistoryHash(record) != record.hash()) {
    Broken(key_sequence, "hash does not match the record's contents");
  }
  previous_hash_ = record.hash();
  records_checked_ = key_sequence;
}

void SubjectExport::Broken(uint64_t sequence, std::string problem) {
  if (broken_) return;  // the first break is the one reported
  broken_ = true;
  first_broken_ = sequence;
  problem_ = std::move(problem);
}

v1::ExportTrailer SubjectExport::Trailer() const {
  v1::ExportTrailer trailer;
  trailer.set_record_count(records_sent_);
  trailer.set_chain_head(previous_hash_);
  trailer.set_chain_verified(done_ && !broken_);
  trailer.set_redacted_records(redacted_);
  if (broken_) {
    trailer.set_first_broken_sequence(first_broken_);
    trailer.set_problem(problem_);
  }
  return trailer;
}

}  // namespace assent::ledger
