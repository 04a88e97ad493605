// Sets up one engine context for one compiled function and hardens it.
//
// Evaluated once per context. Installs CloudFront's globals and modules
// (console, require('crypto'), require('querystring'), the String byte helpers
// for cloudfront-js-1.0, Buffer for cloudfront-js-2.0, the `cloudfront` module),
// fixes Date to the invocation's start time, removes dynamic code evaluation,
// then freezes every object reachable from the global object so that nothing one
// request does can be seen by the next. Returns the host interface the engine
// drives each invocation through; user code never sees it.
(function (native, version, maxLogBytes) {
  "use strict";

  const JSON_parse = JSON.parse;
  const JSON_stringify = JSON.stringify;
  const fromCharCode = String.fromCharCode;
  const RealDate = Date;
  const ObjectFreeze = Object.freeze;
  const defineProperty = Object.defineProperty;
  const imul = Math.imul;

  // ---- per-invocation state ------------------------------------------------------------------
  //
  // Every variable below is all the mutable state this prelude keeps. Everything else it
  // builds is frozen before user code loads. run() sets each of these at the start of every
  // invocation (startInvocation), so nothing one invocation leaves here reaches the next.

  // What Date reads: the invocation's start time.
  let fixedNow = 0;
  // "viewer-request" or "viewer-response".
  let eventType = "";
  // What request.rawQueryString() returns: the query string as received, or undefined.
  let rawQuery = undefined;
  // Characters console.log may still write.
  let logRemaining = 0;
  // cloudfront-js-1.0 "byte strings" made by helpers: hashing treats them as bytes, not UTF-8.
  // Created on first use in an invocation.
  let byteStrings = null;
  // Math.random's generator (xoshiro128**), seeded afresh for each invocation on first use.
  let rngSeeded = false;
  let rng0 = 0;
  let rng1 = 0;
  let rng2 = 0;
  let rng3 = 0;

  const startInvocation = (now, type, query) => {
    fixedNow = now;
    eventType = type === 1 ? "viewer-response" : "viewer-request";
    rawQuery = query == null ? undefined : query;
    logRemaining = maxLogBytes;
    byteStrings = null;
    rngSeeded = false;
  };

  // Seeds the generator from the host's random source (splitmix32 spreads one word over four).
  const seedRandom = () => {
    let z = native.randomWord() >>> 0;
    const spread = () => {
      z = (z + 0x9e3779b9) | 0;
      let t = z ^ (z >>> 16);
      t = imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    rng0 = spread();
    rng1 = spread() ^ (native.randomWord() >>> 0);
    rng2 = spread();
    rng3 = spread() | 1;
    rngSeeded = true;
  };

  const nextRandom32 = () => {
    const result = imul(rotl(imul(rng1, 5), 7), 9) >>> 0;
    const t = rng1 << 9;
    rng2 ^= rng0;
    rng3 ^= rng1;
    rng1 ^= rng2;
    rng0 ^= rng3;
    rng2 ^= t;
    rng3 = rotl(rng3, 11);
    return result;
  };

  const rotl = (x, k) => (x << k) | (x >>> (32 - k));

  // A double in [0, 1) from 53 random bits.
  function random() {
    if (!rngSeeded) seedRandom();
    const high = nextRandom32() >>> 5;
    const low = nextRandom32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  }

  const markBytes = (s) => {
    if (typeof s === "string") (byteStrings || (byteStrings = new Set())).add(s);
    return s;
  };

  // ---- console ------------------------------------------------------------------------------

  const formatLogValue = (v) => {
    if (typeof v === "string") return v;
    if (v === undefined) return "undefined";
    if (typeof v === "function") return "[Function]";
    if (v instanceof Error) return String(v);
    if (typeof v === "object" && v !== null) {
      try {
        const s = JSON_stringify(v);
        return s === undefined ? String(v) : s;
      } catch (e) {
        return "[object]";
      }
    }
    return String(v);
  };

  const console = {
    log(...args) {
      if (logRemaining <= 0) return;
      let line = "";
      for (let i = 0; i < args.length && line.length < logRemaining; i++) {
        line += (i ? " " : "") + formatLogValue(args[i]);
      }
      if (line.length > logRemaining) line = line.slice(0, logRemaining);
      logRemaining -= Math.max(line.length, 1);
      native.log(line);
    },
  };

  // ---- encodings --------------------------------------------------------------------------

  // A string of chars from U+0000 to U+00FF (a byte string).
  const isByteString = (s) => !/[^\x00-\xff]/.test(s);

  // The encodings CloudFront documents for Buffer and digests (latin1 stays internal).
  const normaliseEncoding = (enc, fallback) => {
    if (enc === undefined || enc === null) return fallback;
    switch (String(enc).toLowerCase()) {
      case "utf8":
      case "utf-8":
        return "utf8";
      case "hex":
        return "hex";
      case "base64":
        return "base64";
      case "base64url":
        return "base64url";
      default:
        throw new TypeError("Unknown encoding: " + enc);
    }
  };

  // Bytes cross to the engine as one-byte-per-char strings.
  const latin1Of = (view) => {
    let out = "";
    for (let i = 0; i < view.length; i += 8192) {
      out += fromCharCode.apply(null, view.subarray(i, Math.min(i + 8192, view.length)));
    }
    return out;
  };

  const asBytesView = (data) => {
    if (data instanceof Uint8Array) return data;
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    return null;
  };

  // An integer argument as Node reads it: undefined gives the default, anything else must be
  // an integer.
  const integerArg = (value, name, fallback) => {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !Number.isInteger(value)) {
      throw new TypeError('The "' + name + '" argument must be an integer. Received ' + String(value));
    }
    return value;
  };

  const outOfRange = (name, range, value) =>
    new RangeError('The value of "' + name + '" is out of range. It must be ' + range + ". Received " + String(value));

  // ---- Buffer (cloudfront-js-2.0) -------------------------------------------------------------

  const checkOffset = (buf, offset, width) => {
    offset = integerArg(offset, "offset", 0);
    if (offset < 0 || offset + width > buf.length) throw outOfRange("offset", ">= 0 and <= " + (buf.length - width), offset);
    return offset;
  };

  const checkByteLength = (byteLength) => {
    byteLength = integerArg(byteLength, "byteLength", undefined);
    if (byteLength === undefined || byteLength < 1 || byteLength > 6) throw outOfRange("byteLength", ">= 1 and <= 6", byteLength);
    return byteLength;
  };

  const checkValue = (value, min, max) => {
    value = +value;
    if (!(value >= min && value <= max)) throw outOfRange("value", ">= " + min + " and <= " + max, value);
    return value;
  };

  const dataViewOf = (buf) => new DataView(buf.buffer, buf.byteOffset, buf.length);

  // Bytes to search for: a number's low byte, a string's encoded bytes, or a view's bytes.
  const needleOf = (value, encoding) => {
    if (typeof value === "number") return [value & 255];
    if (typeof value === "string") return native.decodeToArray(value, normaliseEncoding(encoding, "utf8"));
    const view = asBytesView(value);
    if (view) return view;
    throw new TypeError('The "value" argument must be one of type number or string or an instance of Buffer or Uint8Array.');
  };

  const matchesAt = (haystack, needle, at) => {
    for (let j = 0; j < needle.length; j++) if (haystack[at + j] !== needle[j]) return false;
    return true;
  };

  // The bytes of `value` (string, array, array-like, view, ArrayBuffer or object), per Buffer.from.
  const bytesOfValue = (value, encodingOrOffset, length) => {
    if (typeof value === "string") return native.decodeToArray(value, normaliseEncoding(encodingOrOffset, "utf8"));
    if (value instanceof ArrayBuffer) {
      const offset = encodingOrOffset === undefined ? 0 : encodingOrOffset >>> 0;
      if (offset > value.byteLength) throw outOfRange("offset", "<= " + value.byteLength, offset);
      const len = length === undefined ? value.byteLength - offset : length >>> 0;
      if (offset + len > value.byteLength) throw outOfRange("length", "<= " + (value.byteLength - offset), len);
      return { view: new Uint8Array(value, offset, len) };
    }
    const view = asBytesView(value);
    if (view) return view.slice();
    if (value && typeof value === "object") {
      const primitive = typeof value.valueOf === "function" ? value.valueOf() : value;
      if (primitive !== null && primitive !== undefined && primitive !== value) {
        return bytesOfValue(primitive, encodingOrOffset, length);
      }
      const items = value.type === "Buffer" && Array.isArray(value.data) ? value.data : value;
      if (typeof items.length === "number") {
        const out = new Uint8Array(items.length >>> 0);
        for (let i = 0; i < out.length; i++) out[i] = items[i] & 255;
        return out;
      }
      if (typeof value[Symbol.toPrimitive] === "function") {
        const text = value[Symbol.toPrimitive]("string");
        if (typeof text === "string") return bytesOfValue(text, encodingOrOffset);
      }
    }
    throw new TypeError(
      "The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object."
    );
  };

  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      const bytes = bytesOfValue(value, encodingOrOffset, length);
      // An ArrayBuffer is shared (a view on it), everything else copied.
      if (bytes.view) return new Buffer(bytes.view.buffer, bytes.view.byteOffset, bytes.view.length);
      return wrapBytes(bytes);
    }

    static alloc(size, fill, encoding) {
      const out = new Buffer(size >>> 0);
      if (fill !== undefined && fill !== 0) out.fill(fill, 0, out.length, encoding);
      return out;
    }

    static allocUnsafe(size) {
      return new Buffer(size >>> 0);
    }

    static byteLength(value, encoding) {
      if (typeof value === "string") return native.decodeToArray(value, normaliseEncoding(encoding, "utf8")).length;
      const view = asBytesView(value);
      if (view) return view.byteLength;
      throw new TypeError('The "string" argument must be of type string or an instance of Buffer or ArrayBuffer.');
    }

    static concat(list, totalLength) {
      if (!Array.isArray(list)) throw new TypeError('The "list" argument must be an instance of Array.');
      let total = 0;
      for (const item of list) total += item.length;
      if (totalLength !== undefined) total = totalLength >>> 0;
      const out = new Buffer(total);
      let offset = 0;
      for (const item of list) {
        if (offset >= total) break;
        const view = asBytesView(item);
        if (!view) throw new TypeError('The "list" argument must contain only Buffer or Uint8Array instances.');
        const part = view.length > total - offset ? view.subarray(0, total - offset) : view;
        out.set(part, offset);
        offset += part.length;
      }
      return out;
    }

    static isBuffer(value) {
      return value instanceof Buffer;
    }

    static isEncoding(encoding) {
      try {
        normaliseEncoding(encoding, undefined);
        return typeof encoding === "string";
      } catch (e) {
        return false;
      }
    }

    static compare(a, b) {
      const len = Math.min(a.length, b.length);
      for (let i = 0; i < len; i++) {
        if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
      }
      return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
    }

    fill(value, offset, end, encoding) {
      if (typeof offset === "string") {
        encoding = offset;
        offset = undefined;
        end = undefined;
      } else if (typeof end === "string") {
        encoding = end;
        end = undefined;
      }
      const from = offset === undefined ? 0 : offset >>> 0;
      const to = end === undefined ? this.length : Math.min(end >>> 0, this.length);
      if (typeof value === "number") return super.fill(value & 255, from, to);
      const bytes = typeof value === "string" ? native.decodeToArray(value, normaliseEncoding(encoding, "utf8")) : asBytesView(value);
      if (!bytes) return super.fill(value, from, to);
      if (bytes.length === 0) return super.fill(0, from, to);
      for (let i = from; i < to; i++) this[i] = bytes[(i - from) % bytes.length];
      return this;
    }

    toString(encoding, start, end) {
      const view = start === undefined && end === undefined ? this : this.subarray(start, end);
      return native.encodeBytes(latin1Of(view), normaliseEncoding(encoding, "utf8"));
    }

    toJSON() {
      return { type: "Buffer", data: Array.from(this) };
    }

    equals(other) {
      if (!asBytesView(other)) throw new TypeError('The "otherBuffer" argument must be an instance of Buffer or Uint8Array.');
      return Buffer.compare(this, other) === 0;
    }

    compare(target, targetStart, targetEnd, sourceStart, sourceEnd) {
      const dest = asBytesView(target);
      if (!dest) throw new TypeError('The "target" argument must be an instance of Buffer or Uint8Array.');
      targetStart = integerArg(targetStart, "targetStart", 0);
      targetEnd = integerArg(targetEnd, "targetEnd", dest.length);
      sourceStart = integerArg(sourceStart, "sourceStart", 0);
      sourceEnd = integerArg(sourceEnd, "sourceEnd", this.length);
      if (targetStart < 0 || targetEnd > dest.length) throw outOfRange("targetStart", ">= 0 and <= " + dest.length, targetStart);
      if (sourceStart < 0 || sourceEnd > this.length) throw outOfRange("sourceStart", ">= 0 and <= " + this.length, sourceStart);
      const a = this.subarray(sourceStart, Math.max(sourceStart, sourceEnd));
      const b = dest.subarray(targetStart, Math.max(targetStart, targetEnd));
      return Buffer.compare(a, b);
    }

    copy(target, targetStart, sourceStart, sourceEnd) {
      const dest = asBytesView(target);
      if (!dest) throw new TypeError('The "target" argument must be an instance of Buffer or Uint8Array.');
      targetStart = integerArg(targetStart, "targetStart", 0);
      sourceStart = integerArg(sourceStart, "sourceStart", 0);
      sourceEnd = Math.min(integerArg(sourceEnd, "sourceEnd", this.length), this.length);
      if (targetStart < 0) throw outOfRange("targetStart", ">= 0", targetStart);
      if (sourceStart < 0) throw outOfRange("sourceStart", ">= 0", sourceStart);
      if (targetStart >= dest.length || sourceStart >= sourceEnd) return 0;
      const count = Math.min(sourceEnd - sourceStart, dest.length - targetStart);
      dest.set(this.subarray(sourceStart, sourceStart + count), targetStart);
      return count;
    }

    indexOf(value, byteOffset, encoding) {
      if (typeof byteOffset === "string") {
        encoding = byteOffset;
        byteOffset = undefined;
      }
      const needle = needleOf(value, encoding);
      let from = byteOffset === undefined ? 0 : Math.trunc(+byteOffset) || 0;
      if (from < 0) from = Math.max(this.length + from, 0);
      if (needle.length === 0) return Math.min(from, this.length);
      for (let i = from; i + needle.length <= this.length; i++) {
        if (matchesAt(this, needle, i)) return i;
      }
      return -1;
    }

    lastIndexOf(value, byteOffset, encoding) {
      if (typeof byteOffset === "string") {
        encoding = byteOffset;
        byteOffset = undefined;
      }
      const needle = needleOf(value, encoding);
      let from = byteOffset === undefined ? this.length : Math.trunc(+byteOffset);
      if (Number.isNaN(from)) from = this.length;
      if (from < 0) from += this.length;
      if (needle.length === 0) return Math.max(Math.min(from, this.length), 0);
      for (let i = Math.min(from, this.length - needle.length); i >= 0; i--) {
        if (matchesAt(this, needle, i)) return i;
      }
      return -1;
    }

    includes(value, byteOffset, encoding) {
      return this.indexOf(value, byteOffset, encoding) !== -1;
    }

    write(string, offset, length, encoding) {
      if (typeof offset === "string") {
        encoding = offset;
        offset = undefined;
        length = undefined;
      } else if (typeof length === "string") {
        encoding = length;
        length = undefined;
      }
      const enc = normaliseEncoding(encoding, "utf8");
      const bytes = native.decodeToArray(String(string), enc);
      const from = integerArg(offset, "offset", 0);
      if (from < 0 || from > this.length) throw outOfRange("offset", ">= 0 and <= " + this.length, from);
      let max = Math.min(bytes.length, this.length - from, length === undefined ? Infinity : length >>> 0);
      // A character that does not fit entirely is not written.
      if (enc === "utf8") while (max > 0 && max < bytes.length && (bytes[max] & 0xc0) === 0x80) max--;
      for (let i = 0; i < max; i++) this[from + i] = bytes[i];
      return max;
    }

    swap16() {
      return swapBytes(this, 2);
    }

    swap32() {
      return swapBytes(this, 4);
    }

    swap64() {
      return swapBytes(this, 8);
    }

    readUInt8(offset) {
      return this[checkOffset(this, offset, 1)];
    }

    readInt8(offset) {
      return dataViewOf(this).getInt8(checkOffset(this, offset, 1));
    }

    readUInt16BE(offset) {
      return dataViewOf(this).getUint16(checkOffset(this, offset, 2), false);
    }

    readUInt16LE(offset) {
      return dataViewOf(this).getUint16(checkOffset(this, offset, 2), true);
    }

    readInt16BE(offset) {
      return dataViewOf(this).getInt16(checkOffset(this, offset, 2), false);
    }

    readInt16LE(offset) {
      return dataViewOf(this).getInt16(checkOffset(this, offset, 2), true);
    }

    readUInt32BE(offset) {
      return dataViewOf(this).getUint32(checkOffset(this, offset, 4), false);
    }

    readUInt32LE(offset) {
      return dataViewOf(this).getUint32(checkOffset(this, offset, 4), true);
    }

    readInt32BE(offset) {
      return dataViewOf(this).getInt32(checkOffset(this, offset, 4), false);
    }

    readInt32LE(offset) {
      return dataViewOf(this).getInt32(checkOffset(this, offset, 4), true);
    }

    readFloatBE(offset) {
      return dataViewOf(this).getFloat32(checkOffset(this, offset, 4), false);
    }

    readFloatLE(offset) {
      return dataViewOf(this).getFloat32(checkOffset(this, offset, 4), true);
    }

    readDoubleBE(offset) {
      return dataViewOf(this).getFloat64(checkOffset(this, offset, 8), false);
    }

    readDoubleLE(offset) {
      return dataViewOf(this).getFloat64(checkOffset(this, offset, 8), true);
    }

    readUIntBE(offset, byteLength) {
      return readUnsigned(this, offset, byteLength, false);
    }

    readUIntLE(offset, byteLength) {
      return readUnsigned(this, offset, byteLength, true);
    }

    readIntBE(offset, byteLength) {
      return toSigned(readUnsigned(this, offset, byteLength, false), byteLength);
    }

    readIntLE(offset, byteLength) {
      return toSigned(readUnsigned(this, offset, byteLength, true), byteLength);
    }

    writeUInt8(value, offset) {
      return writeUnsigned(this, checkValue(value, 0, 0xff), offset, 1, false);
    }

    writeInt8(value, offset) {
      return writeUnsigned(this, fromSigned(checkValue(value, -0x80, 0x7f), 1), offset, 1, false);
    }

    writeUInt16BE(value, offset) {
      return writeUnsigned(this, checkValue(value, 0, 0xffff), offset, 2, false);
    }

    writeUInt16LE(value, offset) {
      return writeUnsigned(this, checkValue(value, 0, 0xffff), offset, 2, true);
    }

    writeInt16BE(value, offset) {
      return writeUnsigned(this, fromSigned(checkValue(value, -0x8000, 0x7fff), 2), offset, 2, false);
    }

    writeInt16LE(value, offset) {
      return writeUnsigned(this, fromSigned(checkValue(value, -0x8000, 0x7fff), 2), offset, 2, true);
    }

    writeUInt32BE(value, offset) {
      return writeUnsigned(this, checkValue(value, 0, 0xffffffff), offset, 4, false);
    }

    writeUInt32LE(value, offset) {
      return writeUnsigned(this, checkValue(value, 0, 0xffffffff), offset, 4, true);
    }

    writeInt32BE(value, offset) {
      return writeUnsigned(this, fromSigned(checkValue(value, -0x80000000, 0x7fffffff), 4), offset, 4, false);
    }

    writeInt32LE(value, offset) {
      return writeUnsigned(this, fromSigned(checkValue(value, -0x80000000, 0x7fffffff), 4), offset, 4, true);
    }

    writeUIntBE(value, offset, byteLength) {
      byteLength = checkByteLength(byteLength);
      return writeUnsigned(this, checkValue(value, 0, 2 ** (8 * byteLength) - 1), offset, byteLength, false);
    }

    writeUIntLE(value, offset, byteLength) {
      byteLength = checkByteLength(byteLength);
      return writeUnsigned(this, checkValue(value, 0, 2 ** (8 * byteLength) - 1), offset, byteLength, true);
    }

    writeIntBE(value, offset, byteLength) {
      byteLength = checkByteLength(byteLength);
      const limit = 2 ** (8 * byteLength - 1);
      return writeUnsigned(this, fromSigned(checkValue(value, -limit, limit - 1), byteLength), offset, byteLength, false);
    }

    writeIntLE(value, offset, byteLength) {
      byteLength = checkByteLength(byteLength);
      const limit = 2 ** (8 * byteLength - 1);
      return writeUnsigned(this, fromSigned(checkValue(value, -limit, limit - 1), byteLength), offset, byteLength, true);
    }

    writeFloatBE(value, offset) {
      dataViewOf(this).setFloat32(checkOffset(this, offset, 4), +value, false);
      return offset === undefined ? 4 : offset + 4;
    }

    writeFloatLE(value, offset) {
      dataViewOf(this).setFloat32(checkOffset(this, offset, 4), +value, true);
      return offset === undefined ? 4 : offset + 4;
    }

    writeDoubleBE(value, offset) {
      dataViewOf(this).setFloat64(checkOffset(this, offset, 8), +value, false);
      return offset === undefined ? 8 : offset + 8;
    }

    writeDoubleLE(value, offset) {
      dataViewOf(this).setFloat64(checkOffset(this, offset, 8), +value, true);
      return offset === undefined ? 8 : offset + 8;
    }
  }

  const wrapBytes = (u8) => new Buffer(u8.buffer, u8.byteOffset, u8.length);

  const swapBytes = (buf, width) => {
    if (buf.length % width !== 0) throw new RangeError("Buffer size must be a multiple of " + 8 * width + "-bits");
    for (let i = 0; i < buf.length; i += width) {
      for (let a = i, b = i + width - 1; a < b; a++, b--) {
        const t = buf[a];
        buf[a] = buf[b];
        buf[b] = t;
      }
    }
    return buf;
  };

  // Integers of 1 to 6 bytes (up to 48 bits, exact in a double).
  const readUnsigned = (buf, offset, byteLength, littleEndian) => {
    byteLength = checkByteLength(byteLength);
    offset = checkOffset(buf, offset, byteLength);
    let value = 0;
    for (let i = 0; i < byteLength; i++) value = value * 256 + buf[offset + (littleEndian ? byteLength - 1 - i : i)];
    return value;
  };

  const toSigned = (value, byteLength) => {
    const limit = 2 ** (8 * byteLength - 1);
    return value >= limit ? value - 2 * limit : value;
  };

  const fromSigned = (value, byteLength) => (value < 0 ? value + 2 ** (8 * byteLength) : value);

  const writeUnsigned = (buf, value, offset, byteLength, littleEndian) => {
    offset = checkOffset(buf, offset, byteLength);
    value = Math.trunc(value);
    for (let i = 0; i < byteLength; i++) {
      buf[offset + (littleEndian ? i : byteLength - 1 - i)] = value % 256;
      value = Math.floor(value / 256);
    }
    return offset + byteLength;
  };

  // ---- TextEncoder, TextDecoder, atob, btoa (cloudfront-js-2.0) -----------------------------

  class TextEncoder {
    get encoding() {
      return "utf-8";
    }

    encode(input) {
      const text = input === undefined ? "" : String(input).toWellFormed();
      const bytes = native.decodeToArray(text, "utf8");
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    }

    encodeInto(source, destination) {
      if (!(destination instanceof Uint8Array)) throw new TypeError("The destination must be a Uint8Array");
      const text = String(source);
      let read = 0;
      let written = 0;
      // Whole characters only, in order, until the destination is full.
      for (const ch of text) {
        const bytes = native.decodeToArray(ch.toWellFormed(), "utf8");
        if (written + bytes.length > destination.length) break;
        destination.set(bytes, written);
        written += bytes.length;
        read += ch.length;
      }
      return { read, written };
    }
  }

  const UTF8_LABELS = ["utf-8", "utf8", "unicode-1-1-utf-8"];

  class TextDecoder {
    #fatal;
    #ignoreBOM;
    #pending = "";

    constructor(label, options) {
      const name = label === undefined ? "utf-8" : String(label).trim().toLowerCase();
      if (!UTF8_LABELS.includes(name)) throw new RangeError("The encoding label provided ('" + label + "') is invalid.");
      this.#fatal = Boolean(options && options.fatal);
      this.#ignoreBOM = Boolean(options && options.ignoreBOM);
    }

    get encoding() {
      return "utf-8";
    }

    get fatal() {
      return this.#fatal;
    }

    get ignoreBOM() {
      return this.#ignoreBOM;
    }

    decode(input, options) {
      let bytes = "";
      if (input !== undefined) {
        const view = asBytesView(input);
        if (!view) throw new TypeError("The input must be an ArrayBuffer or an ArrayBufferView");
        bytes = latin1Of(view);
      }
      bytes = this.#pending + bytes;
      this.#pending = "";
      if (options && options.stream) {
        // Keep an incomplete character at the end for the next call.
        let cut = bytes.length;
        for (let back = 1; back <= 3 && back <= bytes.length; back++) {
          const c = bytes.charCodeAt(bytes.length - back);
          if ((c & 0xc0) === 0x80) continue;
          const width = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
          if (width > back) cut = bytes.length - back;
          break;
        }
        this.#pending = bytes.slice(cut);
        bytes = bytes.slice(0, cut);
      }
      const text = native.decodeUtf8(bytes, this.#fatal);
      if (text == null) throw new TypeError("The encoded data was not valid for encoding utf-8");
      return !this.#ignoreBOM && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    }
  }

  function btoa(data) {
    if (arguments.length === 0) throw new TypeError("btoa requires 1 argument");
    const text = String(data);
    if (!isByteString(text)) throw new TypeError("Invalid character: btoa takes characters from U+0000 to U+00FF");
    return native.encodeBytes(text, "base64");
  }

  function atob(data) {
    if (arguments.length === 0) throw new TypeError("atob requires 1 argument");
    const bytes = native.forgivingBase64(String(data));
    if (bytes == null) throw new TypeError("Invalid character: the string to be decoded is not correctly encoded");
    return bytes;
  }

  // ---- crypto -------------------------------------------------------------------------------

  const HASH_ALGORITHMS = ["md5", "sha1", "sha256"];

  const hashInput = (data, encoding) => {
    if (typeof data === "string") {
      if (encoding !== undefined) return [data, normaliseEncoding(encoding, "utf8")];
      return [data, version === 1 && byteStrings !== null && byteStrings.has(data) ? "latin1" : "utf8"];
    }
    const view = asBytesView(data);
    if (view) return [latin1Of(view), "latin1"];
    throw new TypeError(
      "The \"data\" argument must be of type string or an instance of Buffer, TypedArray, or DataView."
    );
  };

  class Hash {
    #algorithm;
    #key;
    #parts = [];
    #encodings = [];
    #finished = false;

    constructor(algorithm, key) {
      this.#algorithm = algorithm;
      this.#key = key;
    }

    update(data, encoding) {
      if (this.#finished) throw new Error("Digest already called");
      const [value, enc] = hashInput(data, encoding);
      this.#parts.push(value);
      this.#encodings.push(enc);
      return this;
    }

    digest(encoding) {
      if (this.#finished) throw new Error("Digest already called");
      this.#finished = true;
      const key = this.#key;
      const out = encoding === undefined ? "latin1" : normaliseEncoding(encoding, "latin1");
      const result = native.digest(
        this.#algorithm,
        key === undefined ? null : key[0],
        key === undefined ? "" : key[1],
        this.#parts,
        this.#encodings,
        out
      );
      if (encoding !== undefined) return result;
      return version === 1 ? markBytes(result) : wrapBytes(native.decodeToArray(result, "latin1"));
    }
  }

  const checkAlgorithm = (algorithm) => {
    const name = String(algorithm).toLowerCase();
    if (!HASH_ALGORITHMS.includes(name)) throw new Error("Digest method not supported");
    return name;
  };

  const crypto = {
    createHash(algorithm) {
      return new Hash(checkAlgorithm(algorithm), undefined);
    },
    createHmac(algorithm, key) {
      return new Hash(checkAlgorithm(algorithm), hashInput(key, undefined));
    },
  };

  // ---- querystring (Node semantics) --------------------------------------------------------------

  const qsEscape = (value) => {
    const s = typeof value === "string" ? value : typeof value === "object" ? String(value) : value + "";
    return encodeURIComponent(s);
  };

  const qsUnescape = (s) => {
    try {
      return decodeURIComponent(s);
    } catch (e) {
      return native.unescapeLossy(String(s));
    }
  };

  const stringifyPrimitive = (v) => {
    if (typeof v === "string") return v;
    if (typeof v === "number" && isFinite(v)) return "" + v;
    if (typeof v === "bigint") return "" + v;
    if (typeof v === "boolean") return v ? "true" : "false";
    return "";
  };

  const querystring = {
    escape: qsEscape,
    unescape: qsUnescape,
    parse(str, sep, eq, options) {
      const out = Object.create(null);
      if (typeof str !== "string" || str.length === 0) return out;
      sep = sep === undefined || sep === null || sep === "" ? "&" : String(sep);
      eq = eq === undefined || eq === null || eq === "" ? "=" : String(eq);
      let maxKeys = 1000;
      if (options && typeof options.maxKeys === "number") maxKeys = options.maxKeys;
      const decode = options && typeof options.decodeURIComponent === "function" ? options.decodeURIComponent : qsUnescape;
      const parts = str.split(sep);
      const limit = maxKeys > 0 ? Math.min(parts.length, maxKeys) : parts.length;
      for (let i = 0; i < limit; i++) {
        const part = parts[i];
        if (part.length === 0) continue;
        const at = part.indexOf(eq);
        const rawKey = at >= 0 ? part.slice(0, at) : part;
        const rawValue = at >= 0 ? part.slice(at + eq.length) : "";
        const key = decode(rawKey.replace(/\+/g, " "));
        const value = decode(rawValue.replace(/\+/g, " "));
        if (!(key in out)) out[key] = value;
        else if (Array.isArray(out[key])) out[key].push(value);
        else out[key] = [out[key], value];
      }
      return out;
    },
    stringify(obj, sep, eq, options) {
      sep = sep || "&";
      eq = eq || "=";
      const encode = options && typeof options.encodeURIComponent === "function" ? options.encodeURIComponent : qsEscape;
      if (obj === null || typeof obj !== "object") return "";
      const fields = [];
      for (const k of Object.keys(obj)) {
        const v = obj[k];
        const ks = encode(stringifyPrimitive(k)) + eq;
        if (Array.isArray(v)) {
          for (const item of v) fields.push(ks + encode(stringifyPrimitive(item)));
        } else {
          fields.push(ks + encode(stringifyPrimitive(v)));
        }
      }
      return fields.join(sep);
    },
  };
  querystring.decode = querystring.parse;
  querystring.encode = querystring.stringify;

  // ---- require ----------------------------------------------------------------------------

  const bufferModule = { Buffer };

  function require(name) {
    switch (name) {
      case "crypto":
        return crypto;
      case "querystring":
        return querystring;
      case "buffer":
        if (version === 2) return bufferModule;
        break;
    }
    throw new Error("Cannot find module '" + name + "'");
  }

  // ---- the `cloudfront` module (cloudfront-js-2.0) ------------------------------------------------

  const KVS_FORMATS = ["string", "json", "bytes"];

  class KeyValueStoreHandle {
    #index;

    constructor(index) {
      this.#index = index;
    }

    async get(key, options) {
      const format = options === undefined || options === null || options.format === undefined ? "string" : options.format;
      if (!KVS_FORMATS.includes(format)) throw new TypeError("Unknown format: " + format);
      const value = native.kvsGet(this.#index, String(key));
      if (value === undefined) throw new Error("KeyNotFound: " + String(key));
      if (format === "json") return JSON_parse(value);
      if (format === "bytes") return Buffer.from(value, "utf8");
      return value;
    }

    async exists(key) {
      return native.kvsGet(this.#index, String(key)) !== undefined;
    }

    async meta() {
      return JSON_parse(native.kvsMeta(this.#index));
    }
  }

  const kvsHandles = [];
  for (let i = 0; i < native.kvsCount(); i++) kvsHandles.push(new KeyValueStoreHandle(i));

  const recordOrigin = (kind, params) => {
    if (eventType !== "viewer-request") {
      throw new Error("origin modification is only available in viewer-request functions");
    }
    const problem = native.origin(kind, JSON_stringify(params === undefined ? null : params));
    if (problem) throw new TypeError(problem);
  };

  const cloudfront = {
    kvs(id) {
      const index = native.kvsFind(id === undefined || id === null ? "" : String(id));
      if (index < 0) {
        throw new Error(
          id === undefined || id === null
            ? "no key value store is associated with this function"
            : "key value store '" + id + "' is not associated with this function"
        );
      }
      return kvsHandles[index];
    },
    updateRequestOrigin(params) {
      recordOrigin("update", params);
    },
    selectRequestOriginById(originId) {
      recordOrigin("select", originId);
    },
    createRequestOriginGroup(params) {
      recordOrigin("group", params);
    },
  };

  // What import declarations bind (cloudfront-js-2.0): each module's default export is the
  // module object; named imports are its properties.
  const modules = ObjectFreeze({ cloudfront, crypto, querystring, buffer: bufferModule });

  // ---- cloudfront-js-1.0 String byte helpers ----------------------------------------------------

  const sliceOf = (s, start, end) => String(s).slice(start === undefined ? 0 : start, end);

  const bytesFrom = (input, encoding) => {
    if (typeof input === "string") {
      return markBytes(native.decodeToLatin1(input, normaliseEncoding(encoding, "hex")));
    }
    if (input && typeof input.length === "number") {
      let out = "";
      for (let i = 0; i < input.length; i++) out += fromCharCode(input[i] & 255);
      return markBytes(out);
    }
    throw new TypeError("bytesFrom expects an array of octets or an encoded string");
  };

  if (version === 1) {
    const stringMethods = {
      bytesFrom(input, encoding) {
        return bytesFrom(input, encoding);
      },
      fromBytes(start, end) {
        const s = sliceOf(this, start, end);
        return isByteString(s) ? s : null;
      },
      fromUTF8(start, end) {
        const s = sliceOf(this, start, end);
        return isByteString(s) ? native.encodeBytes(s, "utf8strict") : null;
      },
      toBytes(start, end) {
        const s = sliceOf(this, start, end);
        return isByteString(s) ? markBytes(s) : null;
      },
      toUTF8(start, end) {
        return markBytes(native.decodeToLatin1(sliceOf(this, start, end), "utf8"));
      },
    };
    for (const name of Object.keys(stringMethods)) {
      defineProperty(String.prototype, name, { value: stringMethods[name], writable: true, configurable: true });
    }
    defineProperty(String, "bytesFrom", { value: bytesFrom, writable: true, configurable: true });
  }

  // ---- globals ------------------------------------------------------------------------------

  const setGlobal = (name, value) =>
    defineProperty(globalThis, name, { value, writable: true, enumerable: false, configurable: true });

  setGlobal("console", console);
  setGlobal("require", require);
  if (version === 2) {
    setGlobal("Buffer", Buffer);
    setGlobal("TextEncoder", TextEncoder);
    setGlobal("TextDecoder", TextDecoder);
    setGlobal("atob", atob);
    setGlobal("btoa", btoa);
  } else {
    // cloudfront-js-1.0 documents MemoryError among its error types.
    class MemoryError extends Error {}
    defineProperty(MemoryError.prototype, "name", { value: "MemoryError", writable: true, configurable: true });
    setGlobal("MemoryError", MemoryError);
  }

  // Date: every way of reading the clock returns the invocation's start time.
  function CloudFrontDate(...args) {
    if (new.target === undefined) return new RealDate(fixedNow).toString();
    return Reflect.construct(RealDate, args.length === 0 ? [fixedNow] : args, new.target);
  }
  CloudFrontDate.prototype = RealDate.prototype;
  defineProperty(RealDate.prototype, "constructor", { value: CloudFrontDate, writable: true, configurable: true });
  CloudFrontDate.now = function now() {
    return fixedNow;
  };
  CloudFrontDate.parse = RealDate.parse;
  CloudFrontDate.UTC = RealDate.UTC;
  setGlobal("Date", CloudFrontDate);

  // No dynamic code: eval is gone and every function constructor throws.
  delete globalThis.eval;
  const blockedConstructor = (prototype) => {
    const blocked = function Function() {
      throw new EvalError("Code generation from strings is not supported");
    };
    blocked.prototype = prototype;
    defineProperty(prototype, "constructor", { value: blocked, writable: true, configurable: true });
    return blocked;
  };
  setGlobal("Function", blockedConstructor(Function.prototype));
  blockedConstructor(Object.getPrototypeOf(function* () {}));
  blockedConstructor(Object.getPrototypeOf(async function () {}));
  blockedConstructor(Object.getPrototypeOf(async function* () {}));
  // WeakRef and FinalizationRegistry would let garbage collection (of any invocation's objects)
  // be observed; the others are not ECMAScript (web APIs, the explicit resource management
  // proposal) and not in CloudFront's runtime.
  for (const name of [
    "WeakRef",
    "FinalizationRegistry",
    "queueMicrotask",
    "performance",
    "SuppressedError",
    "DisposableStack",
    "AsyncDisposableStack",
  ]) {
    delete globalThis[name];
  }

  // Math.random: one sequence per invocation (the engine's generator lives as long as the
  // context, so a function could read how far earlier invocations drew).
  defineProperty(Math, "random", { value: random, writable: true, configurable: true });

  // The engine's V8-style stack-trace hooks write to the context itself, past any freezing:
  // a formatter set by one invocation would format every later error. CloudFront's runtime
  // has none of them.
  for (const name of ["prepareStackTrace", "stackTraceLimit", "captureStackTrace"]) {
    delete Error[name];
  }
  // QuickJS's own function metadata, in no ECMAScript edition and not in CloudFront's runtime.
  for (const name of ["fileName", "lineNumber", "columnNumber"]) {
    delete Function.prototype[name];
  }

  // ---- lockdown -------------------------------------------------------------------------------

  // Data properties of shared prototypes that code commonly assigns on its own objects
  // (`Child.prototype.constructor = Child`, `obj.toString = …`): made accessors so the
  // assignment creates an own property instead of failing on the frozen prototype.
  const tame = (obj, name) => {
    const desc = Object.getOwnPropertyDescriptor(obj, name);
    if (!desc || !("value" in desc)) return;
    const value = desc.value;
    defineProperty(obj, name, {
      get: function () {
        return value;
      },
      set: function (v) {
        if (this === obj) throw new TypeError("Cannot assign to read only property '" + String(name) + "'");
        defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: desc.enumerable,
      configurable: false,
    });
  };
  for (const name of ["constructor", "toString", "valueOf", "toLocaleString", "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"]) {
    tame(Object.prototype, name);
  }
  for (const E of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError]) {
    for (const name of ["constructor", "name", "message", "toString"]) tame(E.prototype, name);
  }
  for (const name of ["toString", "constructor"]) tame(Function.prototype, name);

  // Intrinsics not reachable by walking properties from the global object.
  const hidden = [
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(async function* () {}),
    Object.getPrototypeOf([][Symbol.iterator]()),
    Object.getPrototypeOf(""[Symbol.iterator]()),
    Object.getPrototypeOf(new Map()[Symbol.iterator]()),
    Object.getPrototypeOf(new Set()[Symbol.iterator]()),
    Object.getPrototypeOf(/a/[Symbol.matchAll]("a")),
    Object.getPrototypeOf((async function* () {})()),
    Object.getPrototypeOf((function* () {})()),
  ];
  if (typeof Iterator === "function") {
    if (typeof Iterator.from === "function") hidden.push(Object.getPrototypeOf(Iterator.from({ next() {} })));
    if (typeof Iterator.prototype.map === "function") hidden.push(Object.getPrototypeOf([].values().map((x) => x)));
  }
  const pending = [globalThis, ...hidden, crypto, querystring, cloudfront, bufferModule, Hash, KeyValueStoreHandle, TextEncoder, TextDecoder];
  for (const handle of kvsHandles) pending.push(handle);
  const seen = new WeakSet();
  while (pending.length > 0) {
    const obj = pending.pop();
    if ((typeof obj !== "object" && typeof obj !== "function") || obj === null || seen.has(obj)) continue;
    seen.add(obj);
    for (const key of Reflect.ownKeys(obj)) {
      const desc = Reflect.getOwnPropertyDescriptor(obj, key);
      if (!desc) continue;
      if ("value" in desc) pending.push(desc.value);
      else pending.push(desc.get, desc.set);
    }
    pending.push(Object.getPrototypeOf(obj));
    ObjectFreeze(obj);
  }

  // request.rawQueryString(): one frozen function for every invocation, reading that
  // invocation's query; a non-enumerable own method of the request, as on CloudFront.
  const rawQueryString = () => rawQuery;
  const rawQueryStringProperty = ObjectFreeze({
    value: ObjectFreeze(rawQueryString),
    writable: true,
    configurable: true,
  });

  // ---- host interface -------------------------------------------------------------------------

  return ObjectFreeze({
    // Starts an invocation: fresh per-invocation state, a fresh instance of the user's
    // top-level code, then the handler call with the event the engine built. Returns what the
    // handler returned (maybe a promise).
    run(factory, event, query, now, type) {
      startInvocation(now, type, query);
      defineProperty(event.request, "rawQueryString", rawQueryStringProperty);
      const handler = factory(modules);
      if (typeof handler !== "function") throw new TypeError("handler is not a function");
      return handler(event);
    },
    // JSON.stringify of `value` as the result of a toJSON call (its own toJSON is not looked
    // up): the engine reads results natively and hands over what only the realm can write.
    asJson(value) {
      return JSON_stringify({
        toJSON() {
          return value;
        },
      });
    },
    objectPrototype: Object.prototype,
  });
});
