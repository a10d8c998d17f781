"""Fault: kill -9 of the server during 200 concurrent submissions, ROUNDS times over one data
dir. After each restart: every acknowledged job exists with its spec; re-submitting every
key of the round returns exactly one job per key (an acknowledged key its acknowledged
job); no other job exists; and the database passes `PRAGMA integrity_check`.

Cheap inspect jobs and --local-workers 0: the jobs just stay queued. The moment of the kill
is chosen per round (after a seeded-random number of acknowledgements) so that the crash
lands at different points of the write path.
"""

import random
import threading

import e2e_lib as lib

PATHS = lib.init()

ROUNDS = 10
BURST = 200


class ServerKillTest(lib.E2ETestCase):

    def submit_burst(self, server, spec, keys, kill_after):
        """Submits one job per key from its own thread; SIGKILLs the server once
        `kill_after` submissions were acknowledged. Returns {key: job id} of the
        acknowledged ones."""
        client = lib.Client(server.address)
        acked, errors = {}, []
        lock = threading.Lock()
        start = threading.Barrier(len(keys) + 1)
        kill_now = threading.Event()

        finished = [0]

        def submit(key):
            start.wait()
            try:
                job = client.submit(spec, key=key, timeout=20, wait_for_ready=False)
                with lock:
                    acked[key] = job.id
            except lib.grpc.RpcError as e:
                with lock:
                    errors.append(e.code())
            finally:
                with lock:
                    finished[0] += 1
                    if len(acked) >= kill_after or finished[0] == len(keys):
                        kill_now.set()

        threads = [threading.Thread(target=submit, args=(k,), daemon=True) for k in keys]
        for t in threads:
            t.start()
        start.wait()
        self.assertTrue(kill_now.wait(timeout=120), "the submissions did not progress")
        server.kill9()
        for t in threads:
            t.join(timeout=60)
            self.assertFalse(t.is_alive(), "a submission did not return after the kill")
        client.close()
        unexpected = [code for code in errors if code not in (
            lib.grpc.StatusCode.UNAVAILABLE, lib.grpc.StatusCode.DEADLINE_EXCEEDED,
            lib.grpc.StatusCode.CANCELLED, lib.grpc.StatusCode.UNKNOWN)]
        self.assertEqual(unexpected, [], "only transport errors are expected from a kill")
        return acked

    def test_kill_during_submissions(self):
        rng = random.Random(20240605)
        server = lib.Server(self.path("data"), self.tmp, local_workers=0).start()
        client = lib.Client(server.address)
        model = lib.upload_model(client, lib.fixture_model("mlp.onnx"), "mlp.onnx")
        client.close()
        spec = lib.inspect_spec(model.id)
        expected = {model.inspect_job_id}  # every job that may exist
        total_acked = 0

        for round_no in range(ROUNDS):
            keys = [f"r{round_no}-k{i}" for i in range(BURST)]
            kill_after = rng.randrange(1, BURST)
            acked = self.submit_burst(server, spec, keys, kill_after)
            total_acked += len(acked)
            self.assertEqual(lib.sqlite_integrity(server.db_path), "ok",
                             f"round {round_no}: the crash image is corrupt")

            server.start()
            client = lib.Client(server.address)
            for key, job_id in acked.items():
                job = client.get_job(job_id)
                self.assertEqual(job.spec.model_id, model.id)
                self.assertEqual(job.spec.kind, spec.kind)

            # Re-submit every key of the round (concurrently): one job per key.
            again, lock = {}, threading.Lock()

            def resubmit(chunk):
                for key in chunk:
                    job = client.submit(spec, key=key, timeout=60)
                    with lock:
                        again[key] = job.id

            chunks = [keys[i::8] for i in range(8)]
            threads = [threading.Thread(target=resubmit, args=(ch,)) for ch in chunks]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
                self.assertFalse(t.is_alive(), "re-submission hung")
            self.assertEqual(set(again), set(keys), "a re-submission failed")
            for key, job_id in acked.items():
                self.assertEqual(again[key], job_id, f"key {key}: acknowledged job replaced")
            self.assertEqual(len(set(again.values())), BURST, "one job per key")
            expected |= set(again.values())

            jobs = client.list_jobs()
            ids = [j.id for j in jobs]
            self.assertEqual(len(ids), len(set(ids)), "ListJobs repeated a job")
            self.assertEqual(set(ids), expected, f"round {round_no}: extra or missing jobs")
            client.close()
            print(f"round {round_no}: kill after {kill_after}, {len(acked)} acknowledged "
                  f"before the kill", flush=True)

        self.assertGreater(total_acked, 0)
        self.assertEqual(server.stop(), 0)
        self.assertEqual(lib.sqlite_integrity(server.db_path), "ok")


if __name__ == "__main__":
    lib.main()
