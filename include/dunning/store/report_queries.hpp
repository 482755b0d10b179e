// Report queries: read-only aggregates for the finance report, `ledger verify`, /metrics and
// /healthz. They never write; streaming methods keep memory flat whatever the number of cases.
// The row types are in store/report_rows.hpp.
// One instance per connection, not thread-safe. Throws StoreError only; needs no Tx (each query
// reads one consistent snapshot).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/store/report_rows.hpp"

namespace dunning::store {

// A labelled count for metrics: `a` and `b` are the labels ("" when unused).
struct Count {
  std::string a, b;
  std::int64_t n = 0;
};

class ReportQueries {
 public:
  ReportQueries() = default;
  ReportQueries(const ReportQueries&) = delete;
  ReportQueries& operator=(const ReportQueries&) = delete;
  virtual ~ReportQueries() = default;

  // ---- the finance report. `fn` must not call back into this connection.
  // Cases opened in [from, to) with their outcome, in the order they were opened.
  virtual void for_each_case_outcome(std::optional<TimePoint> from, std::optional<TimePoint> to,
                                     const std::function<void(const store::CaseOutcome&)>& fn) = 0;
  // Per sequence and step: how many cases opened in [from, to) had that step sent.
  virtual std::vector<store::StepReach> step_reach(std::optional<TimePoint> from,
                                                   std::optional<TimePoint> to) = 0;
  // Recoveries (at or before `as_of`) of cases opened in [from, to), with the customer's payment
  // history: one per recovered subscription and currency, its latest recovery in the period
  // (cases without a subscription id each stand for themselves).
  virtual void for_each_recovery_history(
      std::optional<TimePoint> from, std::optional<TimePoint> to, TimePoint as_of,
      const std::function<void(const store::RecoveryHistory&)>& fn) = 0;
  // Every subscription recovered at or before `as_of` (all time), with when it ended after the
  // recovery: a later lost/cancelled ledger row, or its status in `ended_statuses`.
  virtual void for_each_retention(
      TimePoint as_of, std::span<const std::string_view> ended_statuses,
      const std::function<void(const store::RetentionObservation&)>& fn) = 0;
  // Recovered ledger rows summed per currency next to the succeeded payments they name, and (when
  // `mismatches` is given) up to `max_mismatches` rows whose payment is missing, not succeeded,
  // or of another amount or currency.
  virtual std::vector<store::VerifyCurrency> verify_recovered(
      std::vector<store::VerifyMismatch>* mismatches, int max_mismatches) = 0;

  // ---- gauges for /metrics
  virtual std::vector<Count> cases_by_state() = 0;           // a = state
  virtual std::vector<Count> outbox_by_channel_state() = 0;  // a = channel, b = state
  virtual std::vector<Count> recovered_by_currency() = 0;    // a = currency, n = minor
  virtual std::vector<Count> rejected_rows_by_table() = 0;   // a = polled table
};

}  // namespace dunning::store
