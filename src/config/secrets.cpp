#include "dunning/config/secrets.hpp"

#include <cstdlib>
#include <fstream>
#include <iterator>

namespace dunning::config {

std::optional<std::string> read_secret(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return std::nullopt;
  }
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  std::ifstream in(std::filesystem::path(dir) / name, std::ios::binary);
  if (!in) return std::nullopt;
  std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

const std::vector<std::filesystem::path>& credential_stores() {
  static const std::vector<std::filesystem::path> kStores = {"/etc/credstore", "/run/credstore",
                                                             "/usr/lib/credstore"};
  return kStores;
}

std::vector<ConfigError> missing_secrets(const DaemonConfig& cfg, bool with_http,
                                         const std::vector<std::filesystem::path>& also_in) {
  auto available = [&](const std::string& name) {
    if (name.empty()) return true;  // nothing named, nothing missing
    if (read_secret(name)) return true;
    std::error_code ec;
    for (const auto& dir : also_in) {
      if (std::filesystem::is_regular_file(dir / name, ec)) return true;
    }
    return false;
  };
  std::vector<ConfigError> out;
  auto report = [&](const std::string& name, const std::string& setting,
                    const std::string& consequence, bool error) {
    if (available(name)) return;
    out.push_back({cfg.file.string(), 0, 0,
                   "secret " + name + " (" + setting +
                       ") is neither in the environment nor a systemd credential: " + consequence,
                   !error});
  };
  if (with_http && cfg.http.enabled) {
    report(cfg.http.token_env, "http.token_env",
           "/v1/* answers 401 to every request (the events and read API are off)", false);
    report(cfg.http.stripe_secrets_env, "http.stripe_secrets_env",
           "/v1/webhooks/stripe answers 400 to every delivery", false);
    // One role without a password is a choice (an admin-only console); neither is a console
    // nobody can open.
    const auto& console = cfg.http.console;
    if (console.enabled && !available(console.admin_password_env) &&
        !available(console.finance_password_env)) {
      out.push_back({cfg.file.string(), 0, 0,
                     "secrets " + console.admin_password_env + " and " +
                         console.finance_password_env +
                         " (http.console.admin_password_env, finance_password_env) are neither "
                         "in the environment nor systemd credentials: the console (/ui/) is off",
                     true});
    }
  }
  if (!cfg.links.base_url.empty()) {
    report(cfg.links.secret_env, "links.secret_env",
           "messages carry company.update_url instead of a signed link, and /r/ links answer "
           "404",
           false);
  }
  const auto& smtp = cfg.smtp;
  const bool user = available(smtp.username_env), password = available(smtp.password_env);
  if (user != password) {
    // One without the other: SMTP AUTH cannot work (both unset means no AUTH, which is fine).
    report(user ? smtp.password_env : smtp.username_env,
           user ? "smtp.password_env" : "smtp.username_env",
           "SMTP AUTH needs both the user and the password", true);
  }
  if (!cfg.sms.url.empty()) {
    report(cfg.sms.token_env, "sms.token_env",
           "SMS requests are sent without an Authorization header", false);
  }
  if (!cfg.billing.url.empty()) {
    report(cfg.billing.token_env, "billing.token_env",
           "billing requests (retry, cancel, pause) are sent without an Authorization header",
           false);
  }
  if (!cfg.webhooks.url.empty()) {
    report(cfg.webhooks.secret_env, "webhooks.secret_env",
           "webhooks cannot be signed: none is delivered until it is set", true);
  }
  return out;
}

}  // namespace dunning::config
