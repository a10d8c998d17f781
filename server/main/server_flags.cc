#include "server/main/server_flags.h"

namespace mp::server {

void AddServerFlags(CLI::App& app, ServerFlags* flags) {
  app.add_option("--data-dir", flags->data_dir,
                 "Directory for the database (modelpress.db) and blobs/; created if missing")
      ->required();
  app.add_option("--listen", flags->listen, "gRPC address HOST:PORT (port 0 picks one)")
      ->capture_default_str();
  app.add_option("--http", flags->http,
                 "Dashboard + /metrics address HOST:PORT (port 0 picks one), or 'off'")
      ->capture_default_str();
  app.add_option("--local-workers", flags->local_workers,
                 "Worker processes to spawn and keep running (0: none, e.g. in a cluster)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  app.add_option("--worker-binary", flags->worker_binary,
                 "Worker executable (default: modelpress-worker beside this binary)");
  app.add_option("--worker-threads", flags->worker_threads,
                 "Kernel threads per local worker (passed as --threads; 0: worker default)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--worker-arg", flags->worker_args,
                 "Extra argument for every local worker, repeatable; write it with '=', e.g. "
                 "--worker-arg=--max-memory-mb=2048")
      ->allow_extra_args(false);
  app.add_option("--tokens", flags->tokens_file,
                 "Token file: lines 'TOKEN TENANT [user|worker]' ('#' comments); "
                 "without it authentication is off and every call is tenant 'default'");
  app.add_option("--lease-ttl-ms", flags->lease_ttl_ms,
                 "A job lease lapses this long after its last heartbeat")
      ->check(CLI::Range(int64_t{100}, int64_t{3'600'000}))
      ->capture_default_str();
  app.add_option("--max-attempts", flags->max_attempts, "Default leases per job before it is DEAD")
      ->check(CLI::Range(1, 10))
      ->capture_default_str();
  app.add_option("--max-upload-bytes", flags->max_upload_bytes,
                 "Largest model, dataset or artifact upload")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--tenant-quota-bytes", flags->tenant_quota_bytes,
                 "Bytes of models + datasets a tenant may store (0: unlimited)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 50))
      ->capture_default_str();
  app.add_option("--max-queued-jobs", flags->max_queued_jobs,
                 "Queued jobs per tenant before SubmitJob is refused (0: unlimited)")
      ->check(CLI::Range(0, 1'000'000))
      ->capture_default_str();
  app.add_option("--ready-file", flags->ready_file,
                 "Once serving, write {\"grpc\": ADDR, \"http\": ADDR, \"pid\": N} here "
                 "(atomically)");
  app.add_option("--shutdown-grace-ms", flags->shutdown_grace_ms,
                 "On SIGTERM/SIGINT: how long in-flight RPCs and workers get to finish")
      ->check(CLI::Range(int64_t{0}, int64_t{600'000}))
      ->capture_default_str();
  app.add_option("--log-level", flags->log_level,
                 "trace, debug, info, warn, error or off (default: MP_LOG_LEVEL or info)");
}

}  // namespace mp::server
