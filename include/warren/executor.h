// warren/executor.h: where consumer callbacks run, when the application decides.
//
// By default a broker runs consumer callbacks, confirms and returns on its own
// thread pool. An application that already has an executor (an event loop, a
// fiber scheduler, a thread pool) passes it in instead, and warren schedules
// its callback work there.
//
// Example:
//
//   class MyLoopExecutor : public warren::Executor {
//    public:
//     void Schedule(absl::AnyInvocable<void() &&> task) override {
//       loop_.Post(std::move(task));
//     }
//   };
//   MyLoopExecutor executor;
//   auto broker = warren::Broker::Create(
//       {.dispatch = warren::Dispatch::kExecutor, .executor = &executor});
//
// Whatever the executor, warren runs one consumer's callbacks one at a time
// and in delivery order: it never schedules a consumer's next task before the
// previous one has returned.
#ifndef WARREN_EXECUTOR_H_
#define WARREN_EXECUTOR_H_

#include "absl/functional/any_invocable.h"

namespace warren {

class Executor {
 public:
  virtual ~Executor() = default;

  // Runs `task` once, soon, on some thread. Must not run it inline inside
  // Schedule() (warren may hold no lock then, but the caller may be a
  // publisher that expects to return promptly). Must be thread-safe.
  virtual void Schedule(absl::AnyInvocable<void() &&> task) = 0;
};

}  // namespace warren

#endif  // WARREN_EXECUTOR_H_
