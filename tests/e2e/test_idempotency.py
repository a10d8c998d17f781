"""10 concurrent submissions with one idempotency key create one job (and the same key with
another spec is ALREADY_EXISTS)."""

import threading

import e2e_lib as lib

PATHS = lib.init()

CONCURRENT = 10


class IdempotencyTest(lib.E2ETestCase):

    def test_concurrent_same_key(self):
        server = lib.Server(self.path("data"), self.tmp, local_workers=0).start()
        client = lib.Client(server.address)
        self.addCleanup(client.close)
        model = lib.upload_model(client, lib.fixture_model("mlp.onnx"), "mlp.onnx")
        spec = lib.inspect_spec(model.id)

        expected = {model.inspect_job_id}
        for round_no in range(3):
            key = f"same-key-{round_no}"
            ids, errors, lock = [], [], threading.Lock()
            start = threading.Barrier(CONCURRENT)

            def submit():
                # One channel per thread: the calls really race on the server.
                own = lib.Client(server.address)
                try:
                    start.wait()
                    job = own.submit(spec, key=key, timeout=60)
                    with lock:
                        ids.append(job.id)
                except Exception as e:  # noqa: BLE001 - reported below
                    with lock:
                        errors.append(repr(e))
                finally:
                    own.close()

            threads = [threading.Thread(target=submit) for _ in range(CONCURRENT)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
                self.assertFalse(t.is_alive())
            self.assertEqual(errors, [])
            self.assertEqual(len(ids), CONCURRENT)
            self.assertEqual(len(set(ids)), 1, f"one key, several jobs: {sorted(set(ids))}")

            expected |= set(ids)
            jobs = client.list_jobs(model_id=model.id)
            self.assertEqual(sorted(j.id for j in jobs), sorted(expected),
                             "exactly one job per key, no extra job")

        # Same key, another spec: refused, nothing created.
        other = lib.v1.job_pb2.JobSpec(kind=spec.kind, model_id=model.id, seed=42,
                                       inspect=lib.v1.job_pb2.InspectSpec())
        with self.assertRaises(lib.grpc.RpcError) as refused:
            client.submit(other, key="same-key-0")
        self.assertEqual(refused.exception.code(), lib.grpc.StatusCode.ALREADY_EXISTS)
        self.assertIn("same-key-0", refused.exception.details())
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    lib.main()
