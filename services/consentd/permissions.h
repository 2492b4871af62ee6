// Every RPC consentd serves and the one permission it needs (README "Authorization" shows the same
// table). A new RPC adds its row here: permissions_test fails for any method of Assent's services
// without one, and consentd refuses to start.
//
// Two requests need a second permission for what they carry: RecordDecisions with ImportInfo
// (backdated decisions) also needs consent.import, and a contact point addressed by its keyed hash
// (contact_ref) also needs contact.by_hash.
#pragma once

#include <span>
#include <string_view>

#include "authz/permission.h"

namespace assent::consentd {

struct RpcRule {
  std::string_view service;  // the service's short name, "ConsentService"
  std::string_view method;   // "Check"
  authz::Permission permission;
};

std::span<const RpcRule> RpcRules();

// The rule of `service`.`method`; null when there is none.
const RpcRule* FindRpcRule(std::string_view service, std::string_view method);
// The same for a service's own methods: logs and aborts when there is none (a defect that a
// service's constructor reveals at start).
const RpcRule& RequireRpcRule(std::string_view service, std::string_view method);

}  // namespace assent::consentd
