// Secrets (the SMTP password, signing keys) never live in the YAML files: they come from the
// environment or from systemd credentials (LoadCredential= puts one file per secret into the
// directory named by $CREDENTIALS_DIRECTORY, readable only by the service).
#pragma once

#include <optional>
#include <string>

namespace dunning::config {

// The secret called `name`: the environment variable `name` when it is set, otherwise the
// content of $CREDENTIALS_DIRECTORY/<name> with one trailing newline removed; nullopt when
// neither exists. `name` must be a plain file name (no '/'), else nullopt.
std::optional<std::string> read_secret(const std::string& name);

}  // namespace dunning::config
