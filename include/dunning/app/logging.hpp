// The process logger ("dunningd", the one global the style allows): to the journal when systemd
// connected our stderr to it (JOURNAL_STREAM), to the console otherwise, optionally as JSON lines
// for log shippers, and with customer e-mail addresses masked unless the operator opts out.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace dunning::app {

enum class LogFormat { kText, kJson };

struct LogOptions {
  LogFormat format = LogFormat::kText;
  bool mask_emails = true;  // config `log_customer_emails: true` turns masking off
  std::string level = "info";
};

// Replaces the default logger. Call once at start-up and again once the config is loaded.
// JSON lines go to stderr even under systemd (the journal stores them line by line); text goes
// to the journal sink (with its priority) when stderr is the journal, else to the console.
void setup_logging(const LogOptions& options);

// True when stderr is the journal stream systemd set up for us (JOURNAL_STREAM matches fd 2).
bool stderr_is_journal();

// Masks every e-mail address in `text`: "ana.horvat@example.com" → "a***@example.com". The
// domain stays for debugging delivery; masking twice changes nothing.
std::string mask_emails(std::string_view text);

// One JSON object per log line:
// {"ts":"2026-11-24T13:00:00.123Z","level":"info","logger":"dunningd","msg":"..."}
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace dunning::app
