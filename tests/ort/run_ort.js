#!/usr/bin/env node
// Runs an ONNX model under ONNX Runtime (CPU execution provider, via onnxruntime-node): the
// reference that modelpress's engine and its quantized models are compared against.
//
//   node run_ort.js --model m.onnx --input name=x.npy [--input ...] --output-dir out/
//       Runs once and writes every output as out/<output name>.npy.
//   node run_ort.js --model m.onnx [--input name=x.npy ...] --bench --iters N --threads T
//                   [--warmup W] [--batch B]
//       Prints one JSON line on stdout:
//       {"model":..., "threads":T, "iters":N, "mean_ms":..., "p50_ms":..., "min_ms":...}
//       latency of session.run per call. Inputs not given on the command line are made up
//       from the model's input metadata (symbolic dims = B, default 1; float values from a
//       fixed-seed generator, integers 0).
//
// Session: graphOptimizationLevel 'all', executionMode 'sequential', intraOpNumThreads = T
// (default 1), interOpNumThreads 1. Exit status 1 with a message on stderr on any error.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const {readNpy, writeNpy, DTYPES} = require('./npy');

function usage(msg) {
  process.stderr.write(`run_ort.js: ${msg}\n` +
                       'usage: node run_ort.js --model m.onnx [--input name=x.npy ...] ' +
                       '(--output-dir DIR | --bench [--iters N] [--threads T] [--warmup W] ' +
                       '[--batch B])\n');
  process.exit(2);
}

function parseArgs(argv) {
  const args = {inputs: [], iters: 100, threads: 1, warmup: 5, batch: 1, bench: false};
  const positiveInt = (flag, v) => {
    if (!/^\d+$/.test(v || '') || Number(v) < 1) usage(`${flag} needs a positive integer`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case '--model': args.model = value(); break;
      case '--output-dir': args.outputDir = value(); break;
      case '--bench': args.bench = true; break;
      case '--iters': args.iters = positiveInt(flag, value()); break;
      case '--threads': args.threads = positiveInt(flag, value()); break;
      case '--warmup': args.warmup = Number(value()); break;
      case '--batch': args.batch = positiveInt(flag, value()); break;
      case '--input': {
        const v = value();
        const eq = v.indexOf('=');
        if (eq <= 0) usage(`--input needs name=file.npy, got '${v}'`);
        args.inputs.push([v.slice(0, eq), v.slice(eq + 1)]);
        break;
      }
      default: usage(`unknown argument '${flag}'`);
    }
  }
  if (!args.model) usage('--model is required');
  if (!args.bench && !args.outputDir) usage('--output-dir or --bench is required');
  if (!Number.isInteger(args.warmup) || args.warmup < 0) usage('--warmup needs an integer >= 0');
  return args;
}

function toOrtTensor({type, shape, data}) {
  return type === 'bool' ? new ort.Tensor('bool', data, shape) : new ort.Tensor(type, data, shape);
}

// A made-up input for benchmarking: symbolic dims = batch; floats in [0, 1) from an LCG.
function syntheticInput(meta, batch) {
  if (!meta.isTensor) throw new Error(`input '${meta.name}' is not a tensor`);
  const shape = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : batch));
  const count = shape.reduce((a, b) => a * b, 1);
  const entry = Object.values(DTYPES).find(([t]) => t === meta.type);
  if (!entry) throw new Error(`input '${meta.name}' has unsupported type ${meta.type}`);
  const data = new entry[1](count);
  if (meta.type === 'float32' || meta.type === 'float64') {
    let state = 12345;
    for (let i = 0; i < count; ++i) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      data[i] = state / 4294967296;
    }
  }
  return new ort.Tensor(meta.type, data, shape);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
  });
  const feeds = {};
  for (const [name, file] of args.inputs) {
    if (!session.inputNames.includes(name)) {
      throw new Error(`model has no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
    }
    feeds[name] = toOrtTensor(readNpy(file));
  }
  const metas = session.inputMetadata || [];
  for (const name of session.inputNames) {
    if (feeds[name]) continue;
    if (!args.bench) throw new Error(`missing --input for model input '${name}'`);
    const meta = metas.find((m) => m.name === name);
    if (!meta) throw new Error(`no metadata for input '${name}'; pass --input`);
    feeds[name] = syntheticInput(meta, args.batch);
  }

  if (args.bench) {
    for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
    const times = [];
    for (let i = 0; i < args.iters; ++i) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const round = (v) => Math.round(v * 1e4) / 1e4;
    process.stdout.write(JSON.stringify({
      model: args.model,
      threads: args.threads,
      iters: args.iters,
      mean_ms: round(times.reduce((a, b) => a + b, 0) / times.length),
      p50_ms: round(sorted[Math.floor(sorted.length / 2)]),
      min_ms: round(sorted[0]),
      ort_version: ort.env.versions ? ort.env.versions.common : undefined,
    }) + '\n');
    return;
  }

  const results = await session.run(feeds);
  fs.mkdirSync(args.outputDir, {recursive: true});
  for (const name of session.outputNames) {
    const t = results[name];
    const file = path.join(args.outputDir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.npy`);
    writeNpy(file, t.type, t.dims.map(Number), t.data);
  }
}

main().catch((err) => {
  process.stderr.write(`run_ort.js: ${err.message}\n`);
  process.exit(1);
});
