// Realistic inputs for the micro-benchmarks: a purpose, a default policy, subject and contact-point
// states with a chosen number of stored decisions, and history records. Every builder is
// deterministic, so runs measure the same bytes.
#pragma once

#include <string>

#include "absl/time/time.h"
#include "assent/v1/catalog.pb.h"
#include "assent/v1/types.pb.h"

namespace assent::bench {

inline constexpr char kTenant[] = "acme-retail";
inline constexpr char kSubjectId[] = "cust-000123456";
// The purpose every check asks about, its channel and topic.
inline constexpr char kCheckedPurpose[] = "marketing.newsletter";
inline constexpr v1::Channel kCheckedChannel = v1::EMAIL;
inline constexpr char kCheckedTopic[] = "weekly";

// When a subject has quiet hours they run 22:00-07:00 Europe/Berlin. kOutsideQuietHours is 11:00
// Berlin time; kInsideQuietHours is 22:30 Berlin time (21:30 UTC, outside the window if the zone
// were wrongly read as UTC).
absl::Time OutsideQuietHours();
absl::Time InsideQuietHours();

// "marketing.newsletter", MARKETING, on EMAIL/SMS/PUSH, notice version 3 (minimum 2), 4 topics.
v1::Purpose CheckedPurpose();

// A policy of a dozen rules: EU opt-in, US email opt-out, US SMS opt-in, "*" opt-in and others.
v1::DefaultPolicy Policy();

// A subject with `decisions` stored decisions (at most 100) over 5 purposes x {any channel, EMAIL,
// SMS, PUSH} x {any topic, 4 topics}, every record with evidence; decision i has purpose i % 5,
// channel (i / 5) % 4 and topic (i / 20) % 5, so the checked purpose has one matching decision for
// 1..4 stored, 2 for 10, and all four levels for 100. Every 7th decision is DENIED, the rest
// GRANTED (the ones the check matches are grants). Preferences: jurisdiction `jurisdiction`, one
// EMAIL frequency cap, and quiet hours when `quiet_hours`.
v1::SubjectState Subject(int decisions, bool quiet_hours, const std::string& jurisdiction = "DE");

// An email contact point linked to kSubjectId with 2 decisions of its own (neither matches the
// checked channel) and an SMS suppression.
v1::ContactPointState LinkedContact();

// A DECISIONS_RECORDED history record with `changes` decision changes (before and after records).
v1::HistoryRecord History(int changes);

}  // namespace assent::bench
