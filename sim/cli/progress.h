#pragma once
// A progress bar with ETA on stderr (stdout stays for results). Redrawn in place on a
// terminal, every 10 % otherwise; silent when disabled.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace kvsim::cli {

class Progress {
 public:
  Progress(std::string label, std::int64_t total, bool enabled)
      : label_(std::move(label)), total_(total), enabled_(enabled && total > 0), tty_(::isatty(2) != 0),
        start_(std::chrono::steady_clock::now()) {}
  void tick() {
    if (!enabled_) return;
    const std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    const auto now = std::chrono::steady_clock::now();
    const int decile = static_cast<int>(10 * done_ / total_);
    if (tty_ ? now - last_ < std::chrono::milliseconds(100) && done_ < total_ : decile == last_decile_) return;
    last_ = now;
    last_decile_ = decile;
    const double el = std::chrono::duration<double>(now - start_).count();
    const double rate = el > 0 ? static_cast<double>(done_) / el : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0;
    const int width = 30;
    const int filled = static_cast<int>(width * done_ / total_);
    std::fprintf(stderr, "%s%s [%.*s%*s] %lld/%lld %5.1f%%  %.1f/s  ETA %dm%02ds%s", tty_ ? "\r" : "", label_.c_str(),
                 filled, "##############################", width - filled, "", static_cast<long long>(done_),
                 static_cast<long long>(total_), 100.0 * static_cast<double>(done_) / static_cast<double>(total_), rate,
                 static_cast<int>(eta) / 60, static_cast<int>(eta) % 60, tty_ ? "" : "\n");
  }
  void finish() {
    if (enabled_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  std::int64_t total_;
  bool enabled_, tty_;
  std::chrono::steady_clock::time_point start_, last_{};
  std::int64_t done_ = 0;
  int last_decile_ = -1;
  std::mutex mu_;
};

}  // namespace kvsim::cli
