// .npy read/write for the ONNX Runtime harness (format: numpy's NEP 1 / numpy.lib.format).
//
// Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32 LE for
// 2.0/3.0), a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ending in '\n' so that the data starts at a multiple of 64 (16 for
// old writers), then the elements in C order. Only little-endian (or byte-sized) dtypes and C
// order are accepted; anything else is an error naming the file.
'use strict';

const fs = require('fs');

// descr -> [onnxruntime type name, TypedArray constructor, bytes per element]
const DTYPES = {
  '<f4': ['float32', Float32Array, 4],
  '<f8': ['float64', Float64Array, 8],
  '<i8': ['int64', BigInt64Array, 8],
  '<i4': ['int32', Int32Array, 4],
  '|u1': ['uint8', Uint8Array, 1],
  '|i1': ['int8', Int8Array, 1],
  '|b1': ['bool', Uint8Array, 1],
};
const DESCR_OF = Object.fromEntries(Object.entries(DTYPES).map(([d, [t]]) => [t, d]));

function fail(file, msg) {
  throw new Error(`${file}: ${msg}`);
}

// Parses the header dict strictly: exactly the three keys, known values.
function parseHeader(file, text) {
  const m = text.match(
      /^\{\s*'descr'\s*:\s*'([^']*)'\s*,\s*'fortran_order'\s*:\s*(True|False)\s*,\s*'shape'\s*:\s*\(([^)]*)\)\s*,?\s*\}\s*$/);
  if (!m) fail(file, `unsupported .npy header ${JSON.stringify(text)}`);
  const [, descr, fortran, shapeText] = m;
  if (fortran === 'True') fail(file, 'fortran_order arrays are not supported (save C order)');
  if (!(descr in DTYPES)) fail(file, `unsupported dtype '${descr}'`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+$/.test(s)) fail(file, `bad dim '${s}' in shape`);
    return Number(s);
  });
  return {descr, shape};
}

// Returns {type, shape, data: TypedArray} (bool arrays come back as Uint8Array of 0/1).
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    fail(file, 'not a .npy file (bad magic)');
  }
  const major = buf[6];
  let headerLen;
  let start;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(file, 'truncated header');
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else {
    fail(file, `unsupported .npy version ${major}.${buf[7]}`);
  }
  if (start + headerLen > buf.length) fail(file, 'truncated header');
  const {descr, shape} =
      parseHeader(file, buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen));
  const [type, Ctor, size] = DTYPES[descr];
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * size)) fail(file, `shape [${shape}] is too large`);
  const offset = start + headerLen;
  if (buf.length - offset !== count * size) {
    fail(file, `${buf.length - offset} data bytes, shape [${shape}] of ${descr} needs ` +
                   `${count * size}`);
  }
  // Copy into a fresh, aligned ArrayBuffer.
  const bytes = new Uint8Array(count * size);
  buf.copy(bytes, 0, offset);
  return {type, shape, data: new Ctor(bytes.buffer, 0, count)};
}

// Writes a v1.0 .npy (v2.0 if the header does not fit in 65535 bytes).
function writeNpy(file, type, shape, data) {
  const descr = DESCR_OF[type];
  if (!descr) throw new Error(`${file}: cannot write tensor of type ${type}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let pre = 10;
  if (dict.length + 1 + pre + 64 > 65535) pre = 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  dict = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  const header = Buffer.alloc(pre);
  header.write('\x93NUMPY', 0, 'latin1');
  header[6] = pre === 10 ? 1 : 2;
  header[7] = 0;
  if (pre === 10) {
    header.writeUInt16LE(dict.length, 8);
  } else {
    header.writeUInt32LE(dict.length, 8);
  }
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(file, Buffer.concat([header, Buffer.from(dict, 'latin1'), body]));
}

module.exports = {readNpy, writeNpy, DTYPES};
