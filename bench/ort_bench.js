#!/usr/bin/env node
// Times one model under ONNX Runtime (onnxruntime-node, CPU provider) for bench/model_bench.py.
//
//   node ort_bench.js MODEL.onnx BATCH THREADS ITERS
//
// Session as tests/ort/run_ort.js makes it (graphOptimizationLevel 'all', sequential,
// intraOpNumThreads = THREADS, interOpNumThreads 1). The input is [BATCH, <declared dims>]
// (symbolic dims = BATCH) of floats in [0, 1) from a fixed-seed generator. After 3 warm-up
// runs, prints one JSON line: {"mean_ms", "p50_ms", "min_ms", "cpu_ms"}: wall latency of
// session.run, and the process's CPU time (all threads) per run.
'use strict';

const path = require('path');
const ort = require(path.join(__dirname, '../tests/ort/node_modules/onnxruntime-node'));

(async () => {
  const [model, batch, threads, iters] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
  });
  const feeds = {};
  for (const meta of session.inputMetadata) {
    const shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : Number(batch)));
    shape[0] = Number(batch);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    let state = 12345;
    for (let i = 0; i < data.length; ++i) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      data[i] = state / 4294967296;
    }
    feeds[meta.name] = new ort.Tensor('float32', data, shape);
  }
  for (let i = 0; i < 3; ++i) await session.run(feeds);
  const times = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < Number(iters); ++i) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = [...times].sort((a, b) => a - b);
  console.log(JSON.stringify({
    mean_ms: times.reduce((a, b) => a + b, 0) / times.length,
    p50_ms: sorted[Math.floor(sorted.length / 2)],
    min_ms: sorted[0],
    cpu_ms: (cpu.user + cpu.system) / 1000 / times.length,
  }));
})().catch((e) => {
  process.stderr.write(`ort_bench.js: ${e.message}\n`);
  process.exit(1);
});
