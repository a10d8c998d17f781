#!/usr/bin/python3
"""Proves each lint catches a planted violation and passes a clean tree.

Builds small trees in a temp directory (not git checkouts, so every file counts) and runs
the checks' `check(root)` functions on them.
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_file_size  # noqa: E402
import check_format  # noqa: E402
import check_layering  # noqa: E402


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


class LayeringTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="mp-lint-")

    def tearDown(self):
        shutil.rmtree(self.root)

    def test_clean_tree_passes(self):
        write(self.root, "workers/engine/exec/session.cc",
              '#include "workers/engine/kernels/gemm.h"\n#include "workers/engine/ir/graph.h"\n'
              '#include "common/status.h"\n#include <vector>\n')
        write(self.root, "workers/engine/onnx/import.cc", '#include "onnx/onnx_pb.h"\n')
        write(self.root, "server/store/db.cc", '#include <sqlite3.h>\n')
        write(self.root, "server/service/jobs.cc",
              '#include "server/queue/queue.h"\n#include "modelpress/v1/job.grpc.pb.h"\n'
              '#include <grpcpp/grpcpp.h>\n')
        write(self.root, "tests/e2e/x_test.cc", '#include "server/store/db.h"\n'
              '#include "workers/engine/exec/session.h"\n#include "onnx/onnx_pb.h"\n')
        self.assertEqual(check_layering.check(self.root), [])

    def assert_flags(self, path, include, fragment):
        write(self.root, path, '#include "%s"\n' % include)
        violations = check_layering.check(self.root)
        self.assertEqual(len(violations), 1, violations)
        self.assertIn(path + ":1:", violations[0])
        self.assertIn(fragment, violations[0])

    def test_engine_must_not_include_grpc(self):
        self.assert_flags("workers/engine/exec/a.cc", "grpcpp/grpcpp.h", "must not include grpc")

    def test_engine_must_not_include_proto(self):
        self.assert_flags("workers/engine/pipeline/a.cc", "modelpress/v1/job.pb.h",
                          "must not include proto")

    def test_engine_must_not_include_sqlite(self):
        self.assert_flags("workers/engine/data/a.cc", "sqlite3.h", "sqlite")

    def test_kernels_must_not_include_tensor(self):
        self.assert_flags("workers/engine/kernels/a.cc", "workers/engine/tensor/tensor.h",
                          "kernels must not include engine/tensor")

    def test_lower_module_must_not_include_higher(self):
        self.assert_flags("workers/engine/ir/a.cc", "workers/engine/exec/session.h",
                          "only modules below it")

    def test_onnx_headers_only_in_engine_onnx(self):
        self.assert_flags("workers/engine/exec/a.cc", "onnx/onnx_pb.h", "only workers/engine/onnx")

    def test_server_and_workers_do_not_meet(self):
        self.assert_flags("server/service/a.cc", "workers/runtime/lease.h", "only over RPC")
        os.remove(os.path.join(self.root, "server/service/a.cc"))
        self.assert_flags("workers/runtime/a.cc", "server/store/db.h", "only over RPC")

    def test_client_must_not_include_server(self):
        self.assert_flags("client/upload.cc", "server/store/db.h", "client must not include")

    def test_sqlite_only_in_store(self):
        self.assert_flags("server/service/a.cc", "sqlite3.h", "only server/store")


class FileSizeTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="mp-lint-")

    def tearDown(self):
        shutil.rmtree(self.root)

    def test_budgets(self):
        write(self.root, "common/ok.cc", "int x;\n" * 500)
        write(self.root, "common/ok_test.cc", "int x;\n" * 800)
        self.assertEqual(check_file_size.check(self.root), [])
        write(self.root, "common/big.cc", "int x;\n" * 501)
        write(self.root, "common/big_test.cc", "int x;\n" * 801)
        violations = check_file_size.check(self.root)
        self.assertEqual(len(violations), 2, violations)
        self.assertTrue(any("common/big.cc: 501 lines" in v for v in violations))
        self.assertTrue(any("common/big_test.cc: 801 lines" in v for v in violations))


class FormatTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="mp-lint-")
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        shutil.copy(os.path.join(repo, ".clang-format"), self.root)
        self.clang_format = shutil.which("clang-format")

    def tearDown(self):
        shutil.rmtree(self.root)

    def test_flags_unformatted_file_only(self):
        self.assertIsNotNone(self.clang_format, "clang-format must be installed")
        write(self.root, "common/good.cc", "int Add(int a, int b) { return a + b; }\n")
        self.assertEqual(check_format.check(self.root, self.clang_format), [])
        write(self.root, "common/bad.cc", "int  Add( int a,int b ){return a+b;}\n")
        violations = check_format.check(self.root, self.clang_format)
        self.assertEqual(len(violations), 1, violations)
        self.assertIn("common/bad.cc", violations[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
