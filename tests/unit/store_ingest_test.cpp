#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "dunning/ingest/event.hpp"
#include "dunning/store/engine.hpp"
#include "support/builders.hpp"

using namespace dunning;

namespace {
struct TempDb {
  TempDb() {
    path =
        std::filesystem::temp_directory_path() /
        ("dunning-ingest-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".db");
    std::filesystem::remove(path);
    store = std::move(store::open_engine(path, store::OpenMode::kCreate)).value();
  }
  ~TempDb() {
    store.reset();
    for (const char* ext : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + ext);
  }
  static inline int counter = 0;
  std::filesystem::path path;
  std::unique_ptr<store::Engine> store;
};
using dunning::testing::at;
}  // namespace

TEST_CASE("writing the same facts twice changes nothing the second time", "[store][ingest]") {
  TempDb db;
  store::CustomerRow c{"c1", "a@example.com", "Ana", "hr", "Europe/Zagreb", std::nullopt, {}};
  store::PaymentMethodRow m;
  m.id = "pm1";
  m.customer_id = "c1";
  m.last4 = "4242";
  m.is_default = true;
  m.updated_at = at("2026-11-22T10:00:00Z");
  store::PaymentRow p;
  p.id = "p1";
  p.customer_id = "c1";
  p.amount_minor = 100;
  p.currency = "EUR";
  p.status = store::PaymentStatus::kFailed;
  p.occurred_at = at("2026-11-22T10:00:00Z");
  store::Tx tx(db.store->db());
  CHECK(db.store->facts().upsert_customer(c));
  CHECK(db.store->facts().upsert_payment_method(m));
  CHECK(db.store->facts().append_payment(p));
  m.updated_at = at("2026-11-23T10:00:00Z");  // a re-import at another time
  CHECK_FALSE(db.store->facts().upsert_customer(c));
  CHECK_FALSE(db.store->facts().upsert_payment_method(m));
  CHECK_FALSE(db.store->facts().append_payment(p));
  m.exp_year = 2031;
  CHECK(db.store->facts().upsert_payment_method(m));
  tx.commit();
}

TEST_CASE("a new default card clears the customer's previous default", "[store][ingest]") {
  TempDb db;
  store::Tx tx(db.store->db());
  CHECK(db.store->facts().set_default_card({"c1", "pm_old", at("2026-11-01T00:00:00Z")}));
  CHECK(db.store->facts().set_default_card({"c1", "pm_new", at("2026-11-02T00:00:00Z")}));
  tx.commit();
  auto card = db.store->feed().default_card("c1");
  REQUIRE(card);
  CHECK(card->id == "pm_new");
}

TEST_CASE("an event refused by the database leaves nothing behind, its batch still commits",
          "[store][ingest]") {
  TempDb db;
  ingest::Event good{"e1", "api", "payment.failed", "{}", at("2026-11-22T10:00:00Z"), {}};
  store::PaymentRow p;
  p.id = "p1";
  p.customer_id = "c1";
  p.amount_minor = 100;
  p.currency = "EUR";
  p.status = store::PaymentStatus::kFailed;
  p.occurred_at = at("2026-11-22T10:00:00Z");
  good.facts.push_back(p);
  ingest::Event bad = good;
  bad.id = "e2";
  std::get<store::PaymentRow>(bad.facts[0]).id = "p2";
  std::get<store::PaymentRow>(bad.facts[0]).currency = "EURO";  // violates the CHECK
  {
    store::Tx tx(db.store->db());
    {
      store::Savepoint sp(db.store->db());
      CHECK(ingest::apply_event(db.store->facts(), good) == ingest::Applied::kWritten);
      sp.release();
    }
    {
      store::Savepoint sp(db.store->db());
      CHECK_THROWS_AS(ingest::apply_event(db.store->facts(), bad), store::StoreError);
    }
    tx.commit();
  }
  store::Tx tx(db.store->db());
  CHECK(ingest::apply_event(db.store->facts(), good) == ingest::Applied::kDuplicate);
  std::get<store::PaymentRow>(bad.facts[0]).currency = "EUR";
  CHECK(ingest::apply_event(db.store->facts(), bad) ==
        ingest::Applied::kWritten);  // e2 was not kept
  tx.commit();
}
