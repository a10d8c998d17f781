// Tests for the ONNX Runtime harness: .npy I/O against numpy-written files, and run_ort.js on
// the fixture models against the stored reference outputs. Run: `node --test` in tests/ort
// (after `ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install`).
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const {execFileSync, spawnSync} = require('child_process');
const {readNpy, writeNpy} = require('./npy');

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const NPY = path.join(FIXTURES, 'data', 'npy');
const MODELS = ['mlp', 'lenet', 'resnet', 'mobilenet', 'transformer'];

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'run-ort-'));
}

function maxAbsDiff(a, b) {
  assert.strictEqual(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; ++i) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('reads numpy-written files of every supported dtype and version', () => {
  const cases = {
    'f32_2x3.npy': ['float32', -1], 'f64_2x3.npy': ['float64', -0.5],
    'i64_2x3.npy': ['int64', -2n], 'i64_2x3_v2.npy': ['int64', -2n],
    'i64_2x3_v3.npy': ['int64', -2n], 'i32_2x3.npy': ['int32', -2],
    'u8_2x3.npy': ['uint8', 248], 'i8_2x3.npy': ['int8', -2], 'bool_2x3.npy': ['bool', 0],
  };
  for (const [file, [type, first]] of Object.entries(cases)) {
    const t = readNpy(path.join(NPY, file));
    assert.strictEqual(t.type, type, file);
    assert.deepStrictEqual(t.shape, [2, 3], file);
    assert.strictEqual(t.data[0], first, file);
  }
  assert.deepStrictEqual(readNpy(path.join(NPY, 'f32_scalar.npy')).shape, []);
  assert.deepStrictEqual(readNpy(path.join(NPY, 'f32_empty_0x4.npy')).shape, [0, 4]);
});

test('rejects fortran order, big-endian and truncated files', () => {
  assert.throws(() => readNpy(path.join(NPY, 'f32_fortran_2x3.npy')), /fortran_order/);
  assert.throws(() => readNpy(path.join(NPY, 'f32_bigendian_2x3.npy')), /unsupported dtype '>f4'/);
  const dir = tmpdir();
  const whole = fs.readFileSync(path.join(NPY, 'f32_2x3.npy'));
  const cut = path.join(dir, 'cut.npy');
  fs.writeFileSync(cut, whole.subarray(0, whole.length - 3));
  assert.throws(() => readNpy(cut), /cut\.npy: 21 data bytes/);
  fs.writeFileSync(cut, Buffer.from('not numpy'));
  assert.throws(() => readNpy(cut), /bad magic/);
});

test('writes the bytes numpy writes and round-trips every type', () => {
  const dir = tmpdir();
  const f = path.join(dir, 'a.npy');
  writeNpy(f, 'float32', [2, 3], new Float32Array([-1, -0.5, 0, 0.5, 1, 1.5]));
  assert.ok(fs.readFileSync(f).equals(fs.readFileSync(path.join(NPY, 'f32_2x3.npy'))));
  const arrays = {
    int64: new BigInt64Array([-5n, 7n]), int32: new Int32Array([-5, 7]),
    uint8: new Uint8Array([0, 255]), int8: new Int8Array([-128, 127]),
    float64: new Float64Array([0.1, -2]), bool: new Uint8Array([1, 0]),
  };
  for (const [type, data] of Object.entries(arrays)) {
    writeNpy(f, type, [2], data);
    const back = readNpy(f);
    assert.strictEqual(back.type, type);
    assert.deepStrictEqual(Array.from(back.data), Array.from(data));
  }
});

for (const model of MODELS) {
  test(`run_ort.js reproduces the stored reference output of ${model}.onnx`, () => {
    const dir = tmpdir();
    execFileSync(process.execPath, [
      path.join(__dirname, 'run_ort.js'), '--model', path.join(FIXTURES, 'models', `${model}.onnx`),
      '--input', `input=${path.join(FIXTURES, 'data', 'images_64.npy')}`, '--output-dir', dir,
    ]);
    const out = readNpy(path.join(dir, 'logits.npy'));
    assert.deepStrictEqual(out.shape, [64, 10]);
    const ort = readNpy(path.join(FIXTURES, 'data', `${model}_ort_out.npy`));
    const torch = readNpy(path.join(FIXTURES, 'data', `${model}_torch_out.npy`));
    assert.ok(maxAbsDiff(out.data, ort.data) < 1e-5, 'differs from the stored ORT output');
    assert.ok(maxAbsDiff(out.data, torch.data) < 1e-3, 'differs from PyTorch');
  });
}

test('bench mode prints latency JSON, with given or synthetic inputs', () => {
  const model = path.join(FIXTURES, 'models', 'lenet.onnx');
  const given = JSON.parse(execFileSync(process.execPath, [
    path.join(__dirname, 'run_ort.js'), '--model', model, '--bench', '--iters', '5',
    '--threads', '1', '--input', `input=${path.join(FIXTURES, 'data', 'images_64.npy')}`,
  ]).toString());
  assert.strictEqual(given.iters, 5);
  assert.strictEqual(given.threads, 1);
  assert.ok(given.mean_ms > 0 && given.min_ms <= given.mean_ms);
  const synthetic = JSON.parse(execFileSync(process.execPath, [
    path.join(__dirname, 'run_ort.js'), '--model', model, '--bench', '--iters', '3', '--batch', '4',
  ]).toString());
  assert.ok(synthetic.mean_ms > 0);
});

test('errors name the problem and exit non-zero', () => {
  const run = (args) => spawnSync(process.execPath, [path.join(__dirname, 'run_ort.js'), ...args]);
  const model = path.join(FIXTURES, 'models', 'mlp.onnx');
  let r = run(['--model', model, '--input', `x=${path.join(NPY, 'f32_2x3.npy')}`, '--output-dir',
               tmpdir()]);
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr.toString(), /model has no input 'x'/);
  r = run(['--model', model, '--output-dir', tmpdir()]);
  assert.match(r.stderr.toString(), /missing --input for model input 'input'/);
  r = run(['--model', model]);
  assert.strictEqual(r.status, 2);
  r = run(['--model', path.join(NPY, 'f32_2x3.npy'), '--bench']);
  assert.strictEqual(r.status, 1);
});
