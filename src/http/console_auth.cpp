#include "dunning/http/console_auth.hpp"

#include <algorithm>

#include "dunning/core/crypto.hpp"

namespace dunning::http::console {

std::string_view to_string(Role r) { return r == Role::kAdmin ? "admin" : "finance"; }

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> form_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      const int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const char byte = static_cast<char>(hi * 16 + lo);
      if (byte == '\0') return std::nullopt;
      out.push_back(byte);
      i += 2;
    } else if (c == '\0') {
      return std::nullopt;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<Form> parse_form(std::string_view body, std::size_t max_fields) {
  Form form;
  if (body.empty()) return form;
  std::size_t start = 0;
  while (start <= body.size()) {
    auto amp = body.find('&', start);
    auto pair =
        body.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!pair.empty()) {  // "a=1&&b=2": browsers never send it, but it is harmless
      auto eq = pair.find('=');
      if (eq == std::string_view::npos) return std::nullopt;
      auto key = form_decode(pair.substr(0, eq));
      auto value = form_decode(pair.substr(eq + 1));
      if (!key || !value || key->empty()) return std::nullopt;
      if (form.size() >= max_fields) return std::nullopt;
      if (!form.emplace(std::move(*key), std::move(*value)).second) return std::nullopt;
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return form;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  std::optional<std::string> found;
  std::size_t start = 0;
  while (start <= header.size()) {
    auto semi = header.find(';', start);
    auto item = trim(header.substr(
        start, semi == std::string_view::npos ? std::string_view::npos : semi - start));
    auto eq = item.find('=');
    if (eq != std::string_view::npos && trim(item.substr(0, eq)) == name) {
      if (found) return std::nullopt;  // twice: ambiguous
      auto value = trim(item.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      found = std::string(value);
    }
    if (semi == std::string_view::npos) break;
    start = semi + 1;
  }
  return found;
}

std::optional<Role> check_credentials(std::string_view user, std::string_view password,
                                      std::string_view admin_password,
                                      std::string_view finance_password) {
  // Both comparisons always run, on digests of equal length.
  const std::string given = sha256_hex(password);
  const bool admin_ok = constant_time_equal(given, sha256_hex(admin_password));
  const bool finance_ok = constant_time_equal(given, sha256_hex(finance_password));
  if (user == "admin" && !admin_password.empty() && admin_ok) return Role::kAdmin;
  if (user == "finance" && !finance_password.empty() && finance_ok) return Role::kFinance;
  return std::nullopt;
}

Sessions::Sessions(Seconds ttl, Seconds idle, std::size_t max_sessions)
    : ttl_(ttl), idle_(idle), max_(std::max<std::size_t>(max_sessions, 1)) {}

Session Sessions::create(Role role, TimePoint now) {
  Session s{random_hex(32), random_hex(32), role, now, now};
  std::lock_guard lock(mutex_);
  // Expired sessions go first; then, if still full, the least recently used.
  for (auto it = by_digest_.begin(); it != by_digest_.end();) {
    const auto& old = it->second;
    it = (now - old.created >= ttl_ || now - old.last_seen >= idle_) ? by_digest_.erase(it)
                                                                     : std::next(it);
  }
  while (by_digest_.size() >= max_) {
    auto lru = std::min_element(by_digest_.begin(), by_digest_.end(), [](auto& a, auto& b) {
      return a.second.last_seen < b.second.last_seen;
    });
    by_digest_.erase(lru);
  }
  by_digest_.emplace(sha256_hex(s.id), s);
  return s;
}

std::optional<Session> Sessions::find(std::string_view id, TimePoint now) {
  if (id.empty()) return std::nullopt;
  const std::string digest = sha256_hex(id);
  std::lock_guard lock(mutex_);
  auto it = by_digest_.find(digest);
  if (it == by_digest_.end()) return std::nullopt;
  auto& s = it->second;
  if (now - s.created >= ttl_ || now - s.last_seen >= idle_) {
    by_digest_.erase(it);
    return std::nullopt;
  }
  s.last_seen = std::max(s.last_seen, now);
  return s;
}

void Sessions::remove(std::string_view id) {
  const std::string digest = sha256_hex(id);
  std::lock_guard lock(mutex_);
  auto it = by_digest_.find(digest);
  if (it != by_digest_.end()) by_digest_.erase(it);
}

std::size_t Sessions::size() const {
  std::lock_guard lock(mutex_);
  return by_digest_.size();
}

bool csrf_matches(const Session& s, std::string_view sent) {
  return !s.csrf.empty() && constant_time_equal(sha256_hex(sent), sha256_hex(s.csrf));
}

std::string session_cookie(std::string_view id, Seconds max_age, bool secure) {
  std::string c = std::string(kSessionCookie) + "=" + std::string(id) +
                  "; Path=/ui; Max-Age=" + std::to_string(max_age.count()) +
                  "; HttpOnly; SameSite=Strict";
  if (secure) c += "; Secure";
  return c;
}

std::string clearing_cookie(bool secure) {
  std::string c = std::string(kSessionCookie) + "=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict";
  if (secure) c += "; Secure";
  return c;
}

LoginThrottle::LoginThrottle(int attempts, Seconds window, std::size_t max_peers)
    : attempts_(std::max(attempts, 1)),
      window_(window),
      max_peers_(std::max<std::size_t>(max_peers, 1)) {}

std::vector<TimePoint>& LoginThrottle::entry(const std::string& peer, TimePoint now) {
  auto it = failures_.find(peer);
  if (it == failures_.end() && failures_.size() >= max_peers_) {
    // Full: forget the addresses whose failures are all older than the window, else share.
    for (auto i = failures_.begin(); i != failures_.end();) {
      i = (i->second.empty() || now - i->second.back() >= window_) ? failures_.erase(i)
                                                                   : std::next(i);
    }
    if (failures_.size() >= max_peers_) return failures_["*"];
  }
  auto& list = failures_[peer];
  std::erase_if(list, [&](TimePoint t) { return now - t >= window_; });
  return list;
}

Seconds LoginThrottle::blocked_for(const std::string& peer, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto& list = entry(peer, now);
  if (static_cast<int>(list.size()) < attempts_) return Seconds(0);
  // The oldest failure that still counts must leave the window.
  const auto oldest = list[list.size() - static_cast<std::size_t>(attempts_)];
  return std::max(Seconds(1), std::chrono::duration_cast<Seconds>(oldest + window_ - now));
}

void LoginThrottle::failed(const std::string& peer, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto& list = entry(peer, now);
  list.push_back(now);
  // Only the last `attempts_` failures matter; keep no more.
  if (list.size() > static_cast<std::size_t>(attempts_)) list.erase(list.begin());
}

void LoginThrottle::succeeded(const std::string& peer) {
  std::lock_guard lock(mutex_);
  failures_.erase(peer);
}

}  // namespace dunning::http::console
