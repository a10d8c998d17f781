#include "server/service/supervisor.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/posix/stream_descriptor.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "common/str_cat.h"
#include "spdlog/spdlog.h"

extern char** environ;

namespace mp::service {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kPollInterval{200};

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// Resolves a bare command name on PATH, as execvp would.
std::optional<std::string> ResolveCommand(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (IsExecutableFile(name)) return name;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= dirs.size()) {
    size_t end = dirs.find(':', begin);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(begin, end - begin);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (IsExecutableFile(candidate)) return candidate;
    begin = end + 1;
  }
  return std::nullopt;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return StrCat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return StrCat("killed by signal ", WTERMSIG(status));
  return StrCat("ended (wait status ", status, ")");
}

}  // namespace

class ProcessSupervisor::Impl {
 public:
  explicit Impl(SupervisorOptions options) : options_(std::move(options)) {}

  absl::Status Start() {
    if (options_.command.empty()) return absl::InvalidArgumentError("empty worker command");
    std::optional<std::string> path = ResolveCommand(options_.command[0]);
    if (!path.has_value()) {
      return absl::NotFoundError(
          StrCat("worker command '", options_.command[0], "' is not an executable file"));
    }
    path_ = *path;
    BuildEnvironment();
    {
      absl::MutexLock lock(&mu_);
      slots_.resize(static_cast<size_t>(std::max(options_.count, 0)));
      for (size_t i = 0; i < slots_.size(); ++i) {
        slots_[i].timer = std::make_unique<asio::steady_timer>(io_);
        Spawn(i);
      }
    }
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
    started_ = true;
    return absl::OkStatus();
  }

  void Stop(std::chrono::milliseconds grace) {
    if (!started_ || stopped_) return;
    stopped_ = true;
    asio::post(io_, [this, grace] { BeginStop(grace); });
    thread_.join();
    // The loop ends only once every child is reaped; this is a safety net for a kernel
    // that never reported an exit.
    absl::MutexLock lock(&mu_);
    for (Slot& slot : slots_) {
      if (slot.pid > 0) {
        kill(slot.pid, SIGKILL);
        waitpid(slot.pid, nullptr, 0);
        slot.pid = 0;
      }
    }
  }

  std::vector<pid_t> Pids() const {
    absl::MutexLock lock(&mu_);
    std::vector<pid_t> pids;
    for (const Slot& slot : slots_) {
      if (slot.pid > 0) pids.push_back(slot.pid);
    }
    return pids;
  }

  int64_t exits() const { return exits_.load(); }

  ~Impl() { Stop(std::chrono::seconds(5)); }

 private:
  struct Slot {
    pid_t pid = 0;
    std::unique_ptr<asio::posix::stream_descriptor> pidfd;
    std::unique_ptr<asio::steady_timer> timer;  // backoff before a respawn, or poll
    Clock::time_point started;
    int quick_deaths = 0;
  };

  void BuildEnvironment() {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string entry(*e);
      std::string key = entry.substr(0, entry.find('='));
      bool overridden = std::any_of(options_.env.begin(), options_.env.end(),
                                    [&](const auto& kv) { return kv.first == key; });
      if (!overridden) env_.push_back(std::move(entry));
    }
    for (const auto& [key, value] : options_.env) env_.push_back(key + "=" + value);
  }

  // Forks and execs the command into slot `i`. Requires mu_.
  void Spawn(size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<char*> argv;
    argv.push_back(path_.data());
    for (size_t a = 1; a < options_.command.size(); ++a) {
      argv.push_back(options_.command[a].data());
    }
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (std::string& e : env_) envp.push_back(e.data());
    envp.push_back(nullptr);

    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
      // Child: async-signal-safe calls only until execve.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      signal(SIGPIPE, SIG_DFL);
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    Slot& slot = slots_[i];
    if (pid < 0) {
      spdlog::error("local worker {}: fork failed: {}", i, std::strerror(errno));
      ScheduleRespawn(i);
      return;
    }
    slot.pid = pid;
    slot.started = Clock::now();
    spdlog::info("local worker {}: started pid {} ({})", i, pid, path_);
    Watch(i, pid);
  }

  void Watch(size_t i, pid_t pid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Slot& slot = slots_[i];
    // glibc 2.36's <sys/pidfd.h> lacks extern "C"; call the syscall directly.
    const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) {
      slot.pidfd = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
      slot.pidfd->async_wait(asio::posix::stream_descriptor::wait_read,
                             [this, i, pid](const boost::system::error_code& ec) {
                               if (!ec) OnMaybeExited(i, pid);
                             });
      return;
    }
    slot.timer->expires_after(kPollInterval);
    slot.timer->async_wait([this, i, pid](const boost::system::error_code& ec) {
      if (!ec) OnMaybeExited(i, pid);
    });
  }

  void OnMaybeExited(size_t i, pid_t pid) {
    absl::MutexLock lock(&mu_);
    Slot& slot = slots_[i];
    if (slot.pid != pid) return;
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == 0) {  // still running (poll mode, or a spurious wake-up)
      slot.pidfd.reset();
      if (slot.pid > 0) {
        slot.timer->expires_after(kPollInterval);
        slot.timer->async_wait([this, i, pid](const boost::system::error_code& ec) {
          if (!ec) OnMaybeExited(i, pid);
        });
      }
      return;
    }
    slot.pid = 0;
    slot.pidfd.reset();
    const std::string how = r == pid ? DescribeExit(status) : "vanished (already reaped)";
    if (stopping_) {
      spdlog::info("local worker {}: pid {} {}", i, pid, how);
      MaybeFinish();
      return;
    }
    exits_.fetch_add(1);
    if (Clock::now() - slot.started >= options_.stable_after) slot.quick_deaths = 0;
    spdlog::warn("local worker {}: pid {} {}; restarting", i, pid, how);
    ScheduleRespawn(i);
  }

  void ScheduleRespawn(size_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Slot& slot = slots_[i];
    auto delay = options_.min_backoff;
    for (int k = 0; k < slot.quick_deaths && delay < options_.max_backoff; ++k) delay *= 2;
    delay = std::min(delay, options_.max_backoff);
    ++slot.quick_deaths;
    slot.timer->expires_after(delay);
    slot.timer->async_wait([this, i](const boost::system::error_code& ec) {
      if (ec) return;
      absl::MutexLock lock(&mu_);
      if (!stopping_) Spawn(i);
    });
  }

  void BeginStop(std::chrono::milliseconds grace) {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    for (Slot& slot : slots_) {
      slot.timer->cancel();
      if (slot.pid > 0) kill(slot.pid, SIGTERM);
    }
    kill_timer_ = std::make_unique<asio::steady_timer>(io_, grace);
    kill_timer_->async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      absl::MutexLock timer_lock(&mu_);
      for (Slot& slot : slots_) {
        if (slot.pid > 0) {
          spdlog::warn("local worker pid {} ignored SIGTERM; sending SIGKILL", slot.pid);
          kill(slot.pid, SIGKILL);
        }
      }
    });
    // Poll-mode slots need their timer re-armed after the cancel above.
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].pid > 0 && slots_[i].pidfd == nullptr) Watch(i, slots_[i].pid);
    }
    MaybeFinish();
  }

  void MaybeFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const Slot& slot : slots_) {
      if (slot.pid > 0) return;
    }
    if (kill_timer_ != nullptr) kill_timer_->cancel();
    work_.reset();
    io_.stop();
  }

  SupervisorOptions options_;
  std::string path_;
  std::vector<std::string> env_;
  asio::io_context io_;  // declared before everything bound to it
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  mutable absl::Mutex mu_;
  std::vector<Slot> slots_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<asio::steady_timer> kill_timer_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int64_t> exits_{0};
  std::thread thread_;
  bool started_ = false;  // Start/Stop are called from one owning thread
  bool stopped_ = false;
};

ProcessSupervisor::ProcessSupervisor(SupervisorOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
ProcessSupervisor::~ProcessSupervisor() = default;
absl::Status ProcessSupervisor::Start() { return impl_->Start(); }
void ProcessSupervisor::Stop(std::chrono::milliseconds grace) { impl_->Stop(grace); }
std::vector<pid_t> ProcessSupervisor::Pids() const { return impl_->Pids(); }
int64_t ProcessSupervisor::exits() const { return impl_->exits(); }

}  // namespace mp::service
