// Which target a write belongs to, for cluster mode: every target (a subject or a contact point)
// has a route key, the Kafka key of its events ("tenant/subject_id" or "tenant/c:<type>:<hash>"),
// whose murmur2 hash picks its partition (cluster/partition.h), so a target's writes, its changelog
// records and its events share one partition and one owner. A tenant's catalog routes by the
// tenant id alone.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "assent/v1/types.pb.h"
#include "store/store.h"

namespace assent::ledger {

// The route key of a target (events.h's EventKey): "tenant/subject_id" or "tenant/c:<type>:<hash>".
std::string RouteKey(std::string_view tenant, const v1::TargetRef& target);
// The route key of a tenant's catalog (tenant, purposes, default policy).
std::string TenantRouteKey(std::string_view tenant);

// The route key of the target a staged write belongs to, from its column family and key (store
// keys.h): subjects, contacts, history, keys, due entries, legal holds, erasure stubs and
// enforcement proofs belong to their target, catalog entries to their tenant, and the cursor in
// one partition (cluster mode) of a re-permission campaign, an offboarding or the proof of
// enforcement to the route key of that partition it holds.
// An offboarding job goes with its tenant's catalog. nullopt for writes tied to no single target
// (idempotency, imports, reports, the rest of lifecycle, outbox, meta, pending proofs): they
// travel with the mutation's other writes.
std::optional<std::string> RouteOfWrite(store::Cf cf, std::string_view key);

// Cluster mode with standbys (cluster.standbys): true for a staged write every instance applies
// from every partition, kept in full or not: the states (subjects, contact points), the evidence
// data keys that reveal the evidence in them, and the erasure stubs that Check, GetSubjectState,
// GetContactPointState and GetErasure read; the catalog; and what is tenant-wide (report
// aggregates, re-permission campaigns, offboarding). Everything else (history, idempotency, due
// entries, intents, ...) is applied only where its partition is kept in full.
bool IsSharedWrite(store::Cf cf, std::string_view key);

// Cluster mode's filter for background work over the stored keys of `cf` (ledger.h KeyFilter:
// the sweeper, link intent recovery): a key whose route key `owns` says is in a partition owned
// here. A key that routes nowhere (corrupt) passes too, so that a walk that decodes its keys
// reports it, as single-node mode does, instead of every instance passing over it in silence.
std::function<bool(std::string_view key)> OwnedKeys(
    store::Cf cf, std::function<bool(std::string_view route)> owns);

}  // namespace assent::ledger
