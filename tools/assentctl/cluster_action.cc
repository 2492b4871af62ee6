// assentctl cluster status: each partition's owner and its standbys' lag. The instance --server
// names answers who owns what (the claims its replica has read) and who the standbys are; every
// owner it names is then asked too, so that each instance's lag behind each partition shows. With
// cluster.standbys -1 every instance is a standby of the partitions it does not own; otherwise
// the standbys are those the answering instance placed (a standby that owns nothing has no
// address known here: its lag shows "?").
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "assent/v1/admin.grpc.pb.h"
#include "assentctl/actions.h"
#include "assentctl/format.h"
#include "common/status_macros.h"
#include "rpc/tls.h"

namespace assent::ctl {
namespace {

using AdminStub = v1::AdminService::StubInterface;

std::string Lag(const v1::ClusterPartition& p) {
  if (p.end_offset() < 0) return "?";
  return absl::StrCat(std::max<int64_t>(0, p.end_offset() - p.applied_offset()));
}

}  // namespace

absl::StatusOr<int> ClusterStatus(Session& session, const Args& /*args*/) {
  v1::ClusterStatus first;
  RETURN_IF_ERROR(session.Call(session.admin(), &AdminStub::GetClusterStatus,
                               v1::GetClusterStatusRequest(), &first));
  if (!first.cluster_mode()) {
    if (session.options().json) {
      session.PrintJson(first);
    } else {
      session.Print(absl::StrCat("single-node mode (version ", first.version(), ")\n"));
    }
    return kExitOk;
  }
  // Every instance named as an owner, asked for its own view (its replica's lag).
  std::map<std::string, v1::ClusterStatus> views = {{first.node_id(), first}};
  std::map<std::string, std::string> unreachable;
  std::set<std::pair<std::string, std::string>> owners;
  for (const v1::ClusterPartition& p : first.partitions()) {
    if (!p.owner().empty()) owners.emplace(p.owner(), p.owner_address());
  }
  for (const auto& [node, address] : owners) {
    if (views.contains(node)) continue;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        rpc::Dial(address, session.options().tls);
    if (!channel.ok()) {
      unreachable[node] = channel.status().ToString();
      continue;
    }
    std::unique_ptr<AdminStub> stub = v1::AdminService::NewStub(*channel);
    v1::ClusterStatus view;
    absl::Status s =
        session.Call(*stub, &AdminStub::GetClusterStatus, v1::GetClusterStatusRequest(), &view);
    if (s.ok()) {
      views[node] = std::move(view);
    } else {
      unreachable[node] = s.ToString();
    }
  }
  if (session.options().json) {
    for (const auto& [node, view] : views) session.PrintJson(view);
    return unreachable.empty() ? kExitOk : kExitFailure;
  }
  Table partitions({"PARTITION", "OWNER", "ADDRESS", "SINCE", "STANDBYS (LAG IN RECORDS)"});
  for (const v1::ClusterPartition& p : first.partitions()) {
    std::vector<std::string> standbys;
    auto lag_on = [&](const std::string& node) -> std::string {
      auto view = views.find(node);
      if (view == views.end() || p.partition() >= view->second.partitions_size()) return "?";
      return Lag(view->second.partitions(p.partition()));
    };
    if (first.standbys() >= 0) {
      for (const std::string& node : p.standbys()) {
        standbys.push_back(absl::StrCat(node, " ", lag_on(node)));
      }
    } else {
      for (const auto& [node, view] : views) {
        if (node != p.owner()) standbys.push_back(absl::StrCat(node, " ", lag_on(node)));
      }
    }
    partitions.AddRow({absl::StrCat(p.partition()), p.owner().empty() ? "-" : p.owner(),
                       p.owner_address().empty() ? "-" : p.owner_address(),
                       FormatTimestamp(p.owned_since(), p.has_owned_since()),
                       standbys.empty() ? "-" : absl::StrJoin(standbys, ", ")});
  }
  Table instances({"INSTANCE", "VERSION", "OWNS", "KEEPS IN FULL", "REPLICA LAG", "CAUGHT UP"});
  for (const auto& [node, view] : views) {
    int owns = 0;
    int keeps = 0;
    for (const v1::ClusterPartition& p : view.partitions()) {
      owns += p.owned_here() ? 1 : 0;
      keeps += p.replicated_here() ? 1 : 0;
    }
    instances.AddRow(
        {node, view.version(), absl::StrCat(owns), absl::StrCat(keeps),
         absl::StrCat(view.replica_lag_records()),
         view.caught_up()
             ? "yes"
             : absl::StrCat("no (", static_cast<int>(100 * view.replay_ratio()), "%)")});
  }
  for (const auto& [node, error] : unreachable) {
    instances.AddRow({node, "?", "?", "?", "unreachable: " + error, "?"});
  }
  session.Print(partitions.Render());
  session.Print("\n");
  session.Print(instances.Render());
  return unreachable.empty() ? kExitOk : kExitFailure;
}

}  // namespace assent::ctl
