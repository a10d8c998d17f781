"""Fault: kill -9 of a worker in the middle of a ptq job. The job is leased again once the
lease TTL has passed, completes on another worker, and its artifact is byte-identical to the
one of an uninterrupted run of the same spec (same explicit seed).
"""

import signal

import e2e_lib as lib

PATHS = lib.init()

LEASE_TTL_MS = 3000  # short, but 2 s above the worker's 1 s heartbeat clamp under load
SEED = 1234


class WorkerKillTest(lib.E2ETestCase):

    def test_killed_worker_job_is_rerun_bit_identically(self):
        server = lib.Server(self.path("data"), self.tmp, local_workers=0,
                            lease_ttl_ms=LEASE_TTL_MS, max_attempts=3).start()
        client = lib.Client(server.address)
        self.addCleanup(client.close)
        _, ptq_spec = lib.upload_ptq_inputs(client, calib_count=256, eval_count=512)
        spec = ptq_spec(SEED, target="x86_avx2", calibrator="entropy")

        # Priority above the upload's inspect job: the first worker leases the ptq job.
        job = client.submit(spec, key="interrupted", priority=5)
        first = lib.Worker(server.address, self.tmp)
        first_id = first.worker_id()

        def mid_job():
            j = client.get_job(job.id)
            if j.state in lib.TERMINAL_STATES:
                raise AssertionError(f"job ended before the worker could be killed: {j}")
            return j if j.state == lib.v1.common_pb2.JOB_STATE_RUNNING and j.step else None

        running = lib.wait_until(mid_job, 120, f"job {job.id} to report progress")
        self.assertEqual(running.worker_id, first_id)
        self.assertEqual(running.attempts, 1)
        # Freeze the worker first so that it cannot finish between the check and the kill.
        first.signal(signal.SIGSTOP)
        frozen = client.get_job(job.id)
        self.assertEqual(lib.state_name(frozen.state), "JOB_STATE_RUNNING",
                         "the job must be mid-way when its worker is killed")
        first.kill9()

        second = lib.Worker(server.address, self.tmp)
        second_id = second.worker_id()
        done = client.wait_job(job.id, timeout=240)
        self.assertEqual(lib.state_name(done.state), "JOB_STATE_SUCCEEDED", done)
        self.assertEqual(done.attempts, 2, "leased once more after the lease lapsed")
        self.assertEqual(done.worker_id, second_id)

        events = client.watch(job.id, timeout=60)
        states = [lib.state_name(e.state) for e in events]
        # RUNNING (first lease) -> QUEUED (lease expired) -> RUNNING (second) -> SUCCEEDED.
        first_queued_again = next(i for i in range(1, len(states))
                                  if states[i] == "JOB_STATE_QUEUED"
                                  and states[i - 1] == "JOB_STATE_RUNNING")
        self.assertIn("JOB_STATE_RUNNING", states[first_queued_again:])
        self.assertEqual(states.count("JOB_STATE_SUCCEEDED"), 1)

        # The same spec again, uninterrupted: the same bytes.
        again = client.submit(spec, key="uninterrupted", priority=5)
        self.assertNotEqual(again.id, job.id)
        clean = client.wait_job(again.id, timeout=240)
        self.assertEqual(lib.state_name(clean.state), "JOB_STATE_SUCCEEDED", clean)
        self.assertEqual(clean.attempts, 1)
        artifacts = {a.name: a.blob.sha256 for a in done.artifacts}
        clean_artifacts = {a.name: a.blob.sha256 for a in clean.artifacts}
        self.assertEqual(artifacts["model"], clean_artifacts["model"],
                         "the re-run after a kill must produce the same model bytes")
        self.assertEqual(client.download(job.id), client.download(again.id))
        self.assertEqual(dict(done.inputs), dict(clean.inputs))
        self.assertEqual(second.stop(), 0)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    lib.main()
