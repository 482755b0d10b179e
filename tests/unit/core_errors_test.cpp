// One error shape: each door answers with the code that says what the caller does next, and only
// `unavailable` is worth another try.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "dunning/core/result.hpp"
#include "dunning/ingest/api_event.hpp"
#include "dunning/ingest/stripe.hpp"
#include "dunning/store/engine.hpp"
#include "support/temp_dir.hpp"

using dunning::Error;
using dunning::ErrorCode;

TEST_CASE("every error code has its one name and only unavailable is transient", "[core][errors]") {
  // The names the logs and JSON use, written out here apart from the table in result.cpp.
  const std::vector<std::pair<ErrorCode, std::string>> names = {
      {ErrorCode::kInvalid, "invalid"},   {ErrorCode::kNotFound, "not_found"},
      {ErrorCode::kConflict, "conflict"}, {ErrorCode::kDenied, "denied"},
      {ErrorCode::kRefused, "refused"},   {ErrorCode::kUnavailable, "unavailable"},
      {ErrorCode::kInternal, "internal"},
  };
  for (const auto& [code, name] : names) {
    CHECK(std::string(dunning::to_string(code)) == name);
    CHECK(Error{code, "x", {}}.transient() == (code == ErrorCode::kUnavailable));
  }
}

TEST_CASE("a Stripe signature that is malformed is invalid, one that does not verify is denied",
          "[core][errors]") {
  using dunning::ingest::stripe_signature_header;
  using dunning::ingest::verify_stripe_signature;
  const dunning::TimePoint now{dunning::Seconds{1'800'000'000}};
  const std::vector<std::string> secrets = {"whsec_right"};
  const std::string body = R"({"id":"evt_1"})";

  auto unreadable =
      verify_stripe_signature("t=soon,v1=00", body, secrets, now, dunning::Seconds{300});
  REQUIRE_FALSE(unreadable.ok());
  CHECK(unreadable.error().code == ErrorCode::kInvalid);

  auto wrong = verify_stripe_signature(stripe_signature_header(body, "whsec_wrong", now), body,
                                       secrets, now, dunning::Seconds{300});
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().code == ErrorCode::kDenied);
  CHECK_FALSE(wrong.error().transient());

  CHECK(verify_stripe_signature(stripe_signature_header(body, "whsec_right", now), body, secrets,
                                now, dunning::Seconds{300})
            .ok());
}

TEST_CASE("a refused event body is invalid and names its field", "[core][errors]") {
  auto p = dunning::ingest::parse_api_event("[1]", dunning::TimePoint{});
  REQUIRE_FALSE(p.ok());
  CHECK(p.error().code == ErrorCode::kInvalid);
  CHECK(p.error().field == "(body)");
}

TEST_CASE("a database that is not there is not_found", "[core][errors]") {
  dunning::testing::TempDir dir;
  auto opened =
      dunning::store::open_engine(dir.path() / "absent.db", dunning::store::OpenMode::kExisting);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::kNotFound);
  CHECK_FALSE(opened.error().transient());
}
