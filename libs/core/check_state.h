// The part of a stored target's state that the decision rule reads, decoded straight from the
// stored bytes.
//
// A stored SubjectState or ContactPointState carries, for every decision, its evidence, source,
// actor, jurisdiction, recording time and import origin, and for the target its tenant, hash-chain
// head and update time: Decide() (decision.h) reads none of them, yet a full parse allocates and
// copies them all, which costs most of a check. ParseForCheck() reads the serialized message
// field by field and builds only the fields listed below, skipping the others on the wire. It is
// the one list of what the rule needs: the service's checks and the senders' view
// (enforce/view.h, which keeps each target trimmed to it) both use it.
//
// Kept (everything else is dropped):
//   SubjectState:      subject_id, sequence, decisions, preferences, gpc_opt_out, gpc_record_id,
//                      last_jurisdiction
//   Preferences:       all but preferred_language
//   ContactPointState: contact, sequence, linked_subject_id, decisions, suppressions
//   ConsentRecord:     record_id, purpose_id, channel, topic, state, effective_time, expire_time,
//                      evidence.notice_version (evidence is present only when that is non-zero),
//                      sequence
//   Suppression:       channel, kind, record_id, sequence
//
// For what it keeps the result equals a full parse (the same values, last-one-wins for repeated
// scalars, merged sub-messages, packed or unpacked repeated enums). It differs from
// ParseFromString only in what no Assent writer produces: unknown fields are dropped, not kept,
// and kept strings are not checked to be UTF-8 (every writer validated them first).
// Pure and thread-safe.
#pragma once

#include <string_view>

#include "assent/v1/types.pb.h"

namespace assent::core {

// Clears `out`, then decodes the fields of `bytes` listed above into it (`out` may live on an
// arena). False when the bytes are not a well-formed message of that type; `out` then holds
// whatever was decoded before the error.
[[nodiscard]] bool ParseForCheck(std::string_view bytes, v1::SubjectState& out);
[[nodiscard]] bool ParseForCheck(std::string_view bytes, v1::ContactPointState& out);

}  // namespace assent::core
