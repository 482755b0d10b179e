// The console's sign-in machinery, free of sockets and clocks so it is tested on its own:
// parsing what a browser sends (form bodies, the Cookie header), the two roles and their
// passwords, sessions with an absolute and an idle lifetime, the CSRF token each session
// carries, the session cookie's attributes, and the per-address limit on failed sign-ins.
// Sessions and LoginThrottle are thread-safe; everything else is pure.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"

namespace dunning::http::console {

enum class Role { kAdmin, kFinance };
std::string_view to_string(Role r);  // "admin" | "finance"

// ---- what the browser sends

// An application/x-www-form-urlencoded body: '+' is a space, %XX a byte. nullopt for a body a
// browser never sends: a bad escape, a field without '=', a repeated field, more than
// `max_fields` fields, or a decoded NUL byte.
using Form = std::map<std::string, std::string, std::less<>>;
std::optional<Form> parse_form(std::string_view body, std::size_t max_fields = 32);
// The value of the cookie called `name` in a Cookie header ("a=1; b=2"), or nullopt. A name
// sent twice is ambiguous (a cookie planted for a wider path): nullopt, so no session is used.
std::optional<std::string> cookie_value(std::string_view header, std::string_view name);

// ---- credentials

// The role whose password is `password` for user `user` ("admin" or "finance"), or nullopt.
// An empty configured password never matches. Compares digests in constant time, so neither
// the length nor the first differing byte of a password shows in the time taken.
std::optional<Role> check_credentials(std::string_view user, std::string_view password,
                                      std::string_view admin_password,
                                      std::string_view finance_password);

// ---- sessions

inline constexpr std::string_view kSessionCookie = "dunningd_session";

struct Session {
  std::string id;    // 256 random bits, hex; only the cookie holds it
  std::string csrf;  // 256 random bits, hex; every state-changing form carries it
  Role role = Role::kFinance;
  TimePoint created;
  TimePoint last_seen;
};

class Sessions {
 public:
  // A session ends `ttl` after it was created or `idle` after its last use, whichever is first.
  // At most `max_sessions` live at once: a new one pushes out the least recently used.
  Sessions(Seconds ttl, Seconds idle, std::size_t max_sessions = 1000);
  Sessions(const Sessions&) = delete;
  Sessions& operator=(const Sessions&) = delete;

  // A new session for `role`, with fresh random id and CSRF token.
  Session create(Role role, TimePoint now);
  // The live session with this id, its last use moved to `now`; nullopt (and forgotten) when it
  // expired, nullopt when there is none.
  std::optional<Session> find(std::string_view id, TimePoint now);
  // Ends the session (sign-out). Nothing happens for an unknown id.
  void remove(std::string_view id);
  std::size_t size() const;

 private:
  Seconds ttl_, idle_;
  std::size_t max_;
  mutable std::mutex mutex_;
  // Keyed by the SHA-256 of the id: a lookup's timing says nothing about the ids that exist.
  std::map<std::string, Session, std::less<>> by_digest_;
};

// True when `sent` (from the form) is the session's CSRF token, compared in constant time.
bool csrf_matches(const Session& s, std::string_view sent);

// The Set-Cookie value that gives the browser session `id`: HttpOnly, SameSite=Strict, Path=/ui,
// Max-Age the session's lifetime, Secure when `secure`.
std::string session_cookie(std::string_view id, Seconds max_age, bool secure);
// The Set-Cookie value that removes it again (sign-out).
std::string clearing_cookie(bool secure);

// ---- failed sign-ins

// Counts failed sign-ins per address: after `attempts` failures within `window` the address is
// refused until the oldest of them is `window` old. Memory is bounded: past `max_peers`
// addresses, the rest share one counter (and so are refused together).
class LoginThrottle {
 public:
  LoginThrottle(int attempts, Seconds window, std::size_t max_peers = 10000);
  LoginThrottle(const LoginThrottle&) = delete;
  LoginThrottle& operator=(const LoginThrottle&) = delete;

  // How long `peer` must wait before trying again; 0 when it may try now.
  Seconds blocked_for(const std::string& peer, TimePoint now);
  void failed(const std::string& peer, TimePoint now);
  // A successful sign-in forgets the address's failures.
  void succeeded(const std::string& peer);

 private:
  std::vector<TimePoint>& entry(const std::string& peer, TimePoint now);
  int attempts_;
  Seconds window_;
  std::size_t max_peers_;
  std::mutex mutex_;
  std::map<std::string, std::vector<TimePoint>> failures_;
};

}  // namespace dunning::http::console
