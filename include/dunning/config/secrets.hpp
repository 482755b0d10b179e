// Secrets (the SMTP password, signing keys) never live in the YAML files: they come from the
// environment or from systemd credentials (LoadCredential= puts one file per secret into the
// directory named by $CREDENTIALS_DIRECTORY, readable only by the service).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "dunning/config/config.hpp"

namespace dunning::config {

// The secret called `name`: the environment variable `name` when it is set, otherwise the
// content of $CREDENTIALS_DIRECTORY/<name> with one trailing newline removed; nullopt when
// neither exists. `name` must be a plain file name (no '/'), else nullopt.
std::optional<std::string> read_secret(const std::string& name);

// Where systemd's LoadCredential=NAME (without a path) looks for NAME, in order: what
// `dunningd check` also consults when it runs outside the service.
const std::vector<std::filesystem::path>& credential_stores();

// Every secret `cfg` names for a feature it enables that is not available: one warning per
// secret (the feature degrades, and the message says how), an error where the feature cannot
// work at all (webhooks cannot be signed, half of the SMTP credentials). The http secrets are
// included only when `with_http`. A secret is available when read_secret finds it or, for each
// folder of `also_in`, a file of its name exists there.
std::vector<ConfigError> missing_secrets(const DaemonConfig& cfg, bool with_http,
                                         const std::vector<std::filesystem::path>& also_in = {});

}  // namespace dunning::config
