// ONNX Runtime (the deployment target) must load what Export writes. Runs the onnxruntime-node
// harness under tests/ort; skipped when node or its node_modules are absent.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <random>

#include "common/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "onnx/defs/parser.h"
#include "workers/engine/ir/rewrites.h"
#include "workers/engine/onnx/onnx.h"
#include "workers/engine/onnx/tensor_proto.h"

namespace mp::onnx {
namespace {

namespace fs = std::filesystem;

// Loads each (original, exported) pair listed (one path per line) in the file argv[2] in
// ONNX Runtime; prints "FAIL <path>: <error>" for an exported model that fails to load while
// its original loads. (A list file, not argv: onnxruntime-node 1.30 crashes on long argv.)
constexpr const char* kScript = R"JS(
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const args = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
  const opts = {logSeverityLevel: 4};
  let bad = 0, loaded = 0;
  for (let i = 0; i + 1 < args.length; i += 2) {
    try { await ort.InferenceSession.create(args[i], opts); } catch (e) { continue; }
    try { await ort.InferenceSession.create(args[i + 1], opts); ++loaded; }
    catch (e) { ++bad; console.log('FAIL ' + args[i + 1] + ': ' + e.message.split('\n')[0]); }
  }
  console.log('LOADED ' + loaded);
  process.exit(bad ? 1 : 0);
})();
)JS";

std::string Harness() {
  const char* root = std::getenv("MP_SOURCE_DIR");
  if (root == nullptr) return "";
  const fs::path dir = fs::path(root) / "tests/ort/node_modules";
  return fs::exists(dir / "onnxruntime-node") ? dir.string() : "";
}

// Runs the script over `pairs`; returns its output and sets `exit_code`.
std::string RunOrt(const std::string& node_path, const std::string& script_path,
                   const std::vector<std::string>& pairs, int& exit_code) {
  const std::string list = script_path + ".list";
  std::ofstream list_file(list);
  for (const std::string& p : pairs) list_file << p << "\n";
  list_file.close();
  const std::string cmd =
      "NODE_PATH='" + node_path + "' node '" + script_path + "' '" + list + "' 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (f != nullptr && fgets(buf, sizeof(buf), f) != nullptr) out += buf;
  exit_code = f == nullptr ? -1 : pclose(f);
  return out;
}

TEST(OrtTest, LoadsExportedBackendSuiteAndSimplifiedModels) {
  const std::string node_path = Harness();
  if (node_path.empty() || std::system("node --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "onnxruntime-node harness not installed (tests/ort)";
  }
  const fs::path root = "/usr/share/libonnx-testdata/data";
  if (!fs::exists(root)) GTEST_SKIP() << "libonnx-testdata not installed";
  ScopedTempDir tmp;
  ASSERT_TRUE(tmp.Create("mp-ort-").ok());
  const std::string script = tmp.path() + "/load.js";
  std::ofstream(script) << kScript;

  std::vector<std::string> pairs;
  int simplified = 0;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    if (!fs::exists(root / suite)) continue;
    for (const auto& dir : fs::directory_iterator(root / suite)) {
      const fs::path model_path = dir.path() / "model.onnx";
      if (!fs::exists(model_path)) continue;
      auto model = ImportModelFile(model_path.string());
      if (!model.ok()) continue;
      // Exercise the rewrites too: a folded/simplified model must still load.
      auto changed = ir::SimplifyForInference(*model);
      ASSERT_TRUE(changed.ok()) << model_path << ": " << changed.status();
      simplified += *changed > 0 ? 1 : 0;
      const std::string out =
          tmp.path() + "/" + std::string(suite) + "_" + dir.path().filename().string() + ".onnx";
      ASSERT_TRUE(ExportModelFile(*model, out).ok()) << model_path;
      pairs.push_back(model_path.string());
      pairs.push_back(out);
    }
  }
  ASSERT_GT(pairs.size(), 1000u);
  int code = 0;
  const std::string output = RunOrt(node_path, script, pairs, code);
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, ::testing::HasSubstr("LOADED "));
  RecordProperty("simplified_models", simplified);
  std::cout << output << "models changed by SimplifyForInference: " << simplified << "\n";
}

// Runs each (original, folded, input name, dims...) line of the list file argv[2] in ONNX
// Runtime on the same deterministic input and prints "DIFF <max |a - b|>" per line.
constexpr const char* kCompareScript = R"JS(
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
  for (const line of lines) {
    const [a, b, name, ...dims] = line.split(' ');
    const shape = dims.map(Number);
    const data = new Float32Array(shape.reduce((x, y) => x * y, 1));
    for (let i = 0; i < data.length; ++i) data[i] = Math.sin(0.37 * i + 0.1);
    const feeds = {[name]: new ort.Tensor('float32', data, shape)};
    const ra = await (await ort.InferenceSession.create(a)).run(feeds);
    const rb = await (await ort.InferenceSession.create(b)).run(feeds);
    const ya = Object.values(ra)[0].data, yb = Object.values(rb)[0].data;
    let diff = ya.length === yb.length ? 0 : Infinity;
    for (let i = 0; i < ya.length; ++i) diff = Math.max(diff, Math.abs(ya[i] - yb[i]));
    console.log('DIFF ' + diff + ' ' + ya.length);
  }
})();
)JS";

void AddRandomInit(::onnx::ModelProto& m, const std::string& name, std::vector<int64_t> dims,
                   std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  tensor::Tensor t = tensor::Tensor::Zeros(tensor::DType::kFloat32, tensor::Shape(dims));
  for (int64_t i = 0; i < t.num_elements(); ++i) t.mutable_data<float>()[i] = dist(rng);
  TensorToProto(t, name, m.mutable_graph()->add_initializer());
}

// BatchNormalization parameters s<suffix>, b<suffix>, m<suffix>, v<suffix> of size c.
void AddBn(::onnx::ModelProto& m, const std::string& suffix, int64_t c, std::mt19937& rng) {
  AddRandomInit(m, "s" + suffix, {c}, rng, 0.5f, 2.0f);
  AddRandomInit(m, "b" + suffix, {c}, rng, -1.0f, 1.0f);
  AddRandomInit(m, "m" + suffix, {c}, rng, -1.0f, 1.0f);
  AddRandomInit(m, "v" + suffix, {c}, rng, 0.1f, 3.0f);
}

TEST(OrtTest, FoldedBatchNormMatchesOriginalInOrt) {
  const std::string node_path = Harness();
  if (node_path.empty() || std::system("node --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "onnxruntime-node harness not installed (tests/ort)";
  }
  struct Case {
    const char* text;
    std::vector<int64_t> input_dims;
    std::function<void(::onnx::ModelProto&, std::mt19937&)> init;
    int expected_folds;
  };
  const std::vector<Case> cases = {
      {R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[1, 2, 6, 6] x) => (float[1, 4, 6, 6] y) {
  c = Conv <kernel_shape = [3, 3], pads = [1, 1, 1, 1]> (x, w, cb)
  r = BatchNormalization <epsilon = 0.001> (c, s, b, m, v)
  c2 = Conv <kernel_shape = [1, 1], group = 2> (r, w2)
  y = BatchNormalization (c2, s2, b2, m2, v2)
})",
       {1, 2, 6, 6},
       [](::onnx::ModelProto& m, std::mt19937& rng) {
         AddRandomInit(m, "w", {4, 2, 3, 3}, rng, -1, 1);
         AddRandomInit(m, "cb", {4}, rng, -1, 1);
         AddRandomInit(m, "w2", {4, 2, 1, 1}, rng, -1, 1);
         AddBn(m, "", 4, rng);
         AddBn(m, "2", 4, rng);
       },
       2},
      {R"(<ir_version: 8, opset_import: ["" : 13]>
g (float[3, 5] a) => (float[3, 4] y) {
  h = Gemm <transB = 1, alpha = 0.5, beta = 2.0> (a, wb, cc)
  y = BatchNormalization (h, s, b, m, v)
})",
       {3, 5},
       [](::onnx::ModelProto& m, std::mt19937& rng) {
         AddRandomInit(m, "wb", {4, 5}, rng, -1, 1);
         AddRandomInit(m, "cc", {4}, rng, -1, 1);
         AddBn(m, "", 4, rng);
       },
       1},
      {R"(<ir_version: 8, opset_import: ["" : 11]>
g (float[2, 5] a) => (float[2, 3] y) {
  h = Gemm (a, wb)
  d = Dropout (h)
  y = BatchNormalization (d, s, b, m, v)
})",
       {2, 5},
       [](::onnx::ModelProto& m, std::mt19937& rng) {
         AddRandomInit(m, "wb", {5, 3}, rng, -1, 1);
         AddBn(m, "", 3, rng);
       },
       1},
  };
  ScopedTempDir tmp;
  ASSERT_TRUE(tmp.Create("mp-ort-bn-").ok());
  const std::string script = tmp.path() + "/compare.js";
  std::ofstream(script) << kCompareScript;
  std::vector<std::string> lines;
  std::mt19937 rng(1234);
  for (size_t i = 0; i < cases.size(); ++i) {
    ::onnx::ModelProto proto;
    const auto st = ::onnx::OnnxParser::Parse(proto, cases[i].text);
    ASSERT_TRUE(st.IsOK()) << st.ErrorMessage();
    cases[i].init(proto, rng);
    std::string bytes;
    ASSERT_TRUE(proto.SerializeToString(&bytes));
    const std::string orig = tmp.path() + "/orig" + std::to_string(i) + ".onnx";
    const std::string folded = tmp.path() + "/folded" + std::to_string(i) + ".onnx";
    std::ofstream(orig, std::ios::binary) << bytes;
    auto model = ImportModel(bytes);
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_TRUE(ir::RemoveIdentityLikeNodes(*model).ok());
    auto folds = ir::FoldBatchNormalization(*model);
    ASSERT_TRUE(folds.ok()) << folds.status();
    EXPECT_EQ(*folds, cases[i].expected_folds) << i;
    for (const ir::Node& n : model->graph.nodes()) EXPECT_NE(n.op_type(), "BatchNormalization");
    ASSERT_TRUE(ExportModelFile(*model, folded).ok());
    std::string line =
        orig + " " + folded + " " + model->graph.value(model->graph.inputs()[0]).name();
    for (int64_t d : cases[i].input_dims) line += " " + std::to_string(d);
    lines.push_back(line);
  }
  int code = 0;
  const std::string output = RunOrt(node_path, script, lines, code);
  ASSERT_EQ(code, 0) << output;
  std::istringstream in(output);
  std::string word;
  int seen = 0;
  while (in >> word) {
    if (word != "DIFF") continue;
    double diff = 0;
    int64_t count = 0;
    in >> diff >> count;
    EXPECT_LT(diff, 1e-4) << "case " << seen;
    EXPECT_GT(count, 0);
    ++seen;
  }
  EXPECT_EQ(seen, static_cast<int>(cases.size())) << output;
}

}  // namespace
}  // namespace mp::onnx
