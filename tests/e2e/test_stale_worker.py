"""Fault: fencing of a stale lease holder.

test_stopped_worker: a real worker is frozen (SIGSTOP) mid-job until its lease lapses;
another worker completes the job; when the first one is resumed (SIGCONT) its heartbeat is
refused, it drops the job, records nothing, and goes on to run other jobs.

test_stale_epoch_calls_refused: the same protocol driven directly over WorkerService with
the generated stubs, so that every stale call (Heartbeat, ReportProgress, CompleteJob,
FailJob, FetchBlob) is checked to answer ABORTED, and exactly one result is recorded.
"""

import signal

import e2e_lib as lib

PATHS = lib.init()


def states(events):
    return [lib.state_name(e.state) for e in events]


class StaleWorkerTest(lib.E2ETestCase):

    def test_stopped_worker(self):
        c = lib.v1.common_pb2
        server = lib.Server(self.path("data"), self.tmp, local_workers=0,
                            lease_ttl_ms=2000, max_attempts=3).start()
        client = lib.Client(server.address)
        self.addCleanup(client.close)
        model, ptq_spec = lib.upload_ptq_inputs(client, calib_count=256, eval_count=512)
        job = client.submit(ptq_spec(99, target="x86_avx2", calibrator="entropy"), priority=5)

        stale = lib.Worker(server.address, self.tmp)
        stale_id = stale.worker_id()

        def mid_job():
            j = client.get_job(job.id)
            if j.state in lib.TERMINAL_STATES:
                raise AssertionError(f"job ended before the worker could be stopped: {j}")
            return j if j.state == c.JOB_STATE_RUNNING and j.step else None

        self.assertEqual(lib.wait_until(mid_job, 120, "progress").worker_id, stale_id)
        stale.signal(signal.SIGSTOP)
        self.assertEqual(lib.state_name(client.get_job(job.id).state), "JOB_STATE_RUNNING")
        # Its lease lapses: the job goes back to the queue.
        client.wait_job(job.id, timeout=60, states={c.JOB_STATE_QUEUED})

        fresh = lib.Worker(server.address, self.tmp)
        fresh_id = fresh.worker_id()
        done = client.wait_job(job.id, timeout=240)
        self.assertEqual(lib.state_name(done.state), "JOB_STATE_SUCCEEDED", done)
        self.assertEqual(done.attempts, 2)
        self.assertEqual(done.worker_id, fresh_id)
        # The fresh worker leaves; the next job can only go to the stale one.
        self.assertEqual(fresh.stop(), 0)

        stale.signal(signal.SIGCONT)
        probe = client.submit(lib.inspect_spec(model.id), key="probe")
        probed = client.wait_job(probe.id, timeout=120)
        self.assertEqual(lib.state_name(probed.state), "JOB_STATE_SUCCEEDED", probed)
        self.assertEqual(probed.worker_id, stale_id,
                         "the resumed worker must drop the stale job and lease again")
        self.assertTrue(stale.alive())
        log = lib.read_text(stale.log_path)
        self.assertRegex(log, rf"job {job.id}: (lease lost|dropped)",
                         "the stale worker learns that its lease is gone")
        self.assertNotIn(f"job {job.id}: succeeded", log)

        # Nothing the stale worker did was recorded.
        after = client.get_job(job.id)
        self.assertEqual(after, done)
        events = client.watch(job.id, timeout=60)
        self.assertEqual(states(events).count("JOB_STATE_SUCCEEDED"), 1)
        self.assertEqual(states(events)[-1], "JOB_STATE_SUCCEEDED")
        self.assertEqual(stale.stop(), 0)
        self.assertEqual(server.stop(), 0)

    def test_stale_epoch_calls_refused(self):
        c, w = lib.v1.common_pb2, lib.v1.worker_pb2
        server = lib.Server(self.path("data"), self.tmp, local_workers=0,
                            lease_ttl_ms=500, max_attempts=3).start()
        client = lib.Client(server.address)
        self.addCleanup(client.close)
        model = lib.upload_model(client, lib.fixture_model("mlp.onnx"), "mlp.onnx")
        job_id = model.inspect_job_id
        workers = client.workers

        def lease(worker_id):
            return workers.LeaseJob(w.LeaseJobRequest(worker_id=worker_id, wait_ms=2000,
                                                      engine_version="e2e"), timeout=30)

        first = lease("worker_00000000000000a1")
        self.assertEqual(first.lease.job_id, job_id)
        self.assertEqual(first.attempt, 1)
        # No heartbeat: the lease lapses and the job is queued again (after its backoff).
        client.wait_job(job_id, timeout=30, states={c.JOB_STATE_QUEUED})
        second = lib.wait_until(lambda: (lambda r: r if r.HasField("lease") else None)(
            lease("worker_00000000000000b2")), 30, "the second lease")
        self.assertEqual(second.lease.job_id, job_id)
        self.assertEqual(second.attempt, 2)
        self.assertGreater(second.lease.epoch, first.lease.epoch)
        old, new = first.lease.epoch, second.lease.epoch

        def expect_aborted(call, request):
            with self.assertRaises(lib.grpc.RpcError) as refused:
                result = call(request, timeout=30)
                if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
                    list(result)  # a stream fails on first read
            self.assertEqual(refused.exception.code(), lib.grpc.StatusCode.ABORTED,
                             refused.exception.details())

        expect_aborted(workers.Heartbeat, w.HeartbeatRequest(job_id=job_id, epoch=old))
        expect_aborted(workers.ReportProgress,
                       w.ReportProgressRequest(job_id=job_id, epoch=old, progress=0.5,
                                               step="stale"))
        expect_aborted(workers.FetchBlob, w.FetchBlobRequest(
            sha256=second.inputs["model"].sha256, job_id=job_id, epoch=old))
        stale_result = [c.Metric(name="stale", value=1)]
        expect_aborted(workers.CompleteJob,
                       w.CompleteJobRequest(job_id=job_id, epoch=old, metrics=stale_result))
        expect_aborted(workers.FailJob, w.FailJobRequest(job_id=job_id, epoch=old,
                                                         error="stale", retryable=False))

        # The current holder is accepted, once.
        self.assertGreater(workers.Heartbeat(w.HeartbeatRequest(job_id=job_id, epoch=new),
                                             timeout=30).expires_unix_ms, 0)
        inspection = lib.v1.model_pb2.ModelInspection(ir_version=7, opset=13,
                                                      parameter_count=1)
        workers.CompleteJob(w.CompleteJobRequest(
            job_id=job_id, epoch=new, metrics=[c.Metric(name="fresh", value=2)],
            inspection=inspection), timeout=30)
        expect_aborted(workers.CompleteJob,
                       w.CompleteJobRequest(job_id=job_id, epoch=new, metrics=stale_result))
        expect_aborted(workers.Heartbeat, w.HeartbeatRequest(job_id=job_id, epoch=new))

        done = client.get_job(job_id)
        self.assertEqual(lib.state_name(done.state), "JOB_STATE_SUCCEEDED")
        self.assertEqual(done.attempts, 2)
        self.assertEqual(done.worker_id, "worker_00000000000000b2")
        self.assertEqual(lib.metrics_of(done), {"fresh": 2})
        self.assertEqual(client.get_model(model.id).inspection.parameter_count, 1)
        events = client.watch(job_id, timeout=30)
        self.assertEqual(states(events).count("JOB_STATE_SUCCEEDED"), 1)
        self.assertNotIn("stale", [e.step for e in events])
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    lib.main()
