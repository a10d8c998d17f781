// Times single-Conv models with ONNX Runtime (node), one intra-op thread.
// Usage: node conv_ort.js ORT_MODULE_DIR MODEL_DIR NAME:N,C,H,W ...
// Prints "NAME best_us" per model: the best of 200 runs after 10 warm-up runs.
const ort = require(process.argv[2]);
(async () => {
  for (const spec of process.argv.slice(4)) {
    const [name, dims] = spec.split(':');
    const shape = dims.split(',').map(Number);
    const s = await ort.InferenceSession.create(`${process.argv[3]}/${name}.onnx`, {
      intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all'});
    const x = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b)).fill(0.5),
                             shape);
    for (let r = 0; r < 10; ++r) await s.run({x});
    let best = 1e18;
    for (let r = 0; r < 200; ++r) {
      const t0 = process.hrtime.bigint();
      await s.run({x});
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000);
    }
    console.log(name, best.toFixed(1));
  }
})();
