// tests/conformance/case_checker.cc: runs cases in child processes and
// compares their observations with `expect`, reporting as check.py does.
//
// Owns case discovery, the child processes and the report; must not run a
// scenario itself (the child, warren_conformance SCENARIO.json, does).
#include "case_checker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "json_codec.h"

extern char** environ;

namespace warren::conformance {
namespace {

namespace fs = std::filesystem;

// check.py shows at most this much of a failing driver's output.
constexpr size_t kOutputTail = 2000;

std::string Tail(const std::string& text) {
  return text.size() <= kOutputTail ? text : text.substr(text.size() - kOutputTail);
}

std::string Trimmed(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::string CategoryOf(const fs::path& path) {
  std::string stem = path.stem().string();
  return stem.substr(0, stem.find("__"));
}

absl::StatusOr<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return absl::DataLossError("cannot read " + path.string());
  return text.str();
}

absl::StatusOr<std::vector<fs::path>> CasePaths(const std::vector<fs::path>& inputs) {
  std::vector<fs::path> paths;
  for (const fs::path& input : inputs) {
    std::error_code error;
    if (fs::is_directory(input, error)) {
      std::vector<fs::path> found;
      for (const fs::directory_entry& entry :
           fs::recursive_directory_iterator(input, error)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") {
          found.push_back(entry.path());
        }
      }
      if (error) return absl::NotFoundError("cannot list " + input.string());
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else if (fs::exists(input, error)) {
      paths.push_back(input);
    } else {
      return absl::NotFoundError("no such case or folder: " + input.string());
    }
  }
  return paths;
}

absl::StatusOr<std::set<std::string>> ReadCategories(const fs::path& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::set<std::string> categories;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    std::string category = Trimmed(line.substr(0, line.find('#')));
    if (!category.empty()) categories.insert(category);
  }
  return categories;
}

struct DriverRun {
  bool timed_out = false;
  int wait_status = 0;
  std::string out;
  std::string err;
};

// Runs this executable on `scenario`, collecting its output, for at most
// `timeout`; a child past it is killed.
absl::StatusOr<DriverRun> RunDriver(const fs::path& scenario, const CheckOptions& options) {
  std::error_code error;
  std::string self = fs::read_symlink("/proc/self/exe", error).string();
  if (error) return absl::InternalError("cannot find this executable");
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return absl::InternalError("pipe2 failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError("pipe2 failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  std::vector<std::string> args = options.driver_args;
  args.push_back(scenario.string());
  std::vector<char*> argv = {self.data()};
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawned != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return absl::InternalError("cannot start " + self);
  }

  DriverRun run;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&run.out, &run.err};
  int open_pipes = 2;
  absl::Time deadline = absl::Now() + options.timeout;
  while (open_pipes > 0) {
    int wait_ms = static_cast<int>(
        std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    if (wait_ms == 0) {
      run.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    int ready = poll(fds, 2, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[65536];
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  // A child that closed its output may still be running.
  for (;;) {
    pid_t waited = waitpid(pid, &run.wait_status, run.timed_out ? 0 : WNOHANG);
    if (waited == pid || (waited < 0 && errno != EINTR)) break;
    if (waited < 0) continue;
    if (absl::Now() >= deadline) {
      run.timed_out = true;
      kill(pid, SIGKILL);
    } else {
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  return run;
}

std::optional<size_t> FirstDifference(const Json& expected, const Json& observed) {
  size_t common = std::min(expected.size(), observed.size());
  for (size_t i = 0; i < common; ++i) {
    if (!SameJson(expected[i], observed[i])) return i;
  }
  if (expected.size() != observed.size()) return common;
  return std::nullopt;
}

std::string Show(const Json& observations, size_t index) {
  return index < observations.size() ? SortedDump(observations[index])
                                      : "(no observation)";
}

// Empty when the case passes, else the lines that say why it failed.
std::vector<std::string> CheckCase(const fs::path& path, const CheckOptions& options) {
  std::string name = path.stem().string();
  absl::StatusOr<std::string> text = ReadFile(path);
  Json scenario = text.ok() ? Json::parse(*text, nullptr, false) : Json();
  if (!text.ok() || scenario.is_discarded() || !scenario.is_object() ||
      !scenario.contains("expect") || !scenario.at("expect").is_array()) {
    return {"FAIL " + name + ": cannot read the case" +
            (text.ok() ? "" : ": " + std::string(text.status().message()))};
  }
  absl::StatusOr<DriverRun> run = RunDriver(path, options);
  if (!run.ok()) {
    return {"FAIL " + name + ": cannot run the driver: " +
            std::string(run.status().message())};
  }
  if (run->timed_out) {
    return {"FAIL " + name + ": driver ran over " + absl::FormatDuration(options.timeout)};
  }
  if (WIFSIGNALED(run->wait_status)) {
    return {"FAIL " + name + ": driver died of signal " +
                std::to_string(WTERMSIG(run->wait_status)),
            "  stderr:   " + Tail(Trimmed(run->err))};
  }
  if (WEXITSTATUS(run->wait_status) != 0) {
    return {"FAIL " + name + ": driver exited with status " +
                std::to_string(WEXITSTATUS(run->wait_status)),
            "  stderr:   " + Tail(Trimmed(run->err))};
  }
  Json observed = Json::parse(run->out, nullptr, false);
  if (observed.is_discarded()) {
    return {"FAIL " + name + ": driver output is not JSON",
            "  stdout:   " + Tail(run->out)};
  }
  if (!observed.is_array()) return {"FAIL " + name + ": driver output is not a JSON array"};
  const Json& expected = scenario.at("expect");
  std::optional<size_t> index = FirstDifference(expected, observed);
  if (!index) return {};
  const Json& steps = scenario.contains("steps") ? scenario.at("steps") : Json();
  Json step = steps.is_array() && *index < steps.size() ? steps[*index] : Json();
  return {"FAIL " + name + ": step " + std::to_string(*index),
          "  step:     " + SortedDump(step),
          "  expected: " + Show(expected, *index),
          "  observed: " + Show(observed, *index)};
}

}  // namespace

absl::StatusOr<std::vector<fs::path>> SelectCases(const CheckOptions& options) {
  absl::StatusOr<std::vector<fs::path>> paths = CasePaths(options.inputs);
  if (!paths.ok()) return paths.status();
  if (options.categories_file) {
    absl::StatusOr<std::set<std::string>> categories =
        ReadCategories(*options.categories_file);
    if (!categories.ok()) return categories.status();
    // A listed category without cases is a typo, as check.py says too.
    for (const std::string& category : *categories) {
      if (std::none_of(paths->begin(), paths->end(), [&](const fs::path& p) {
            return CategoryOf(p) == category;
          })) {
        return absl::NotFoundError("no cases in category " + category);
      }
    }
    std::erase_if(*paths, [&](const fs::path& p) {
      return !categories->contains(CategoryOf(p));
    });
  }
  if (paths->empty()) return absl::NotFoundError("no cases found");
  return paths;
}

int CheckCases(const CheckOptions& options) {
  absl::StatusOr<std::vector<fs::path>> paths = SelectCases(options);
  if (!paths.ok()) {
    std::cerr << "warren_conformance: " << paths.status().message() << "\n";
    return 2;
  }
  int failed = 0;
  for (const fs::path& path : *paths) {
    std::vector<std::string> lines = CheckCase(path, options);
    if (lines.empty()) continue;
    ++failed;
    for (const std::string& line : lines) std::cout << line << "\n";
    std::cout.flush();
  }
  std::cout << (paths->size() - failed) << " passed, " << failed << " failed"
            << std::endl;
  return failed == 0 ? 0 : 1;
}

}  // namespace warren::conformance
