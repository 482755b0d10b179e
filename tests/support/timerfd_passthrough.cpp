// Preloaded ahead of libfaketime into the dunningd processes of CI's shifted-clock runs
// (tests/support/dunning_fixtures.py, DUNNING_TEST_TIME_SHIFT).
//
// libfaketime moves every absolute timerfd deadline by its offset, whatever clock the timer
// uses. Asio arms its CLOCK_MONOTONIC timerfd with an absolute deadline of 1 ns whenever a timer
// is already due; shifted back by 40 days the deadline is negative, the kernel answers EINVAL and
// the daemon's timers never fire. The monotonic clock is not faked (FAKETIME_DONT_FAKE_MONOTONIC),
// so the right deadline is the one asio asked for: hand it to the kernel unchanged.
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

extern "C" int timerfd_settime(int fd, int flags, const itimerspec* new_value,
                               itimerspec* old_value) {
  return static_cast<int>(syscall(SYS_timerfd_settime, fd, flags, new_value, old_value));
}
