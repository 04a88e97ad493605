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
  // Characters console.log may still write.
  let logRemaining = 0;
  // cloudfront-js-1.0 "byte strings" made by helpers: hashing treats them as bytes, not UTF-8.
  // Created on first use in an invocation.
  let byteStrings = null;
  // Math.random's generator (xoshiro128**), seeded afresh for each invocation.
  let rng0 = 0;
  let rng1 = 0;
  let rng2 = 0;
  let rng3 = 0;

  const startInvocation = (now, type, seed0, seed1) => {
    fixedNow = now;
    eventType = type;
    logRemaining = maxLogBytes;
    byteStrings = null;
    // splitmix32 spreads the two seed words over the generator's four.
    let z = seed0 >>> 0;
    const spread = () => {
      z = (z + 0x9e3779b9) | 0;
      let t = z ^ (z >>> 16);
      t = imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    rng0 = spread();
    rng1 = spread() ^ (seed1 >>> 0);
    rng2 = spread();
    rng3 = spread() | 1;
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
      case "latin1":
      case "binary":
      case "ascii":
        return "latin1";
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

  // ---- Buffer (cloudfront-js-2.0) -------------------------------------------------------------

  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === "string") {
        return wrapBytes(native.decodeToArray(value, normaliseEncoding(encodingOrOffset, "utf8")));
      }
      if (value instanceof ArrayBuffer) {
        const offset = encodingOrOffset === undefined ? 0 : encodingOrOffset >>> 0;
        const len = length === undefined ? value.byteLength - offset : length >>> 0;
        return new Buffer(value, offset, len);
      }
      const view = asBytesView(value);
      if (view) {
        const out = new Buffer(view.length);
        out.set(view);
        return out;
      }
      if (value && typeof value === "object") {
        const items = value.type === "Buffer" && Array.isArray(value.data) ? value.data : value;
        if (typeof items.length === "number") {
          const out = new Buffer(items.length >>> 0);
          for (let i = 0; i < out.length; i++) out[i] = items[i] & 255;
          return out;
        }
      }
      throw new TypeError(
        "The first argument must be of type string or an instance of Buffer, ArrayBuffer, or Array or an Array-like Object."
      );
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
      throw new TypeError("The \"string\" argument must be of type string or an instance of Buffer or ArrayBuffer.");
    }

    static concat(list, totalLength) {
      if (!Array.isArray(list)) throw new TypeError("The \"list\" argument must be an instance of Array.");
      let total = 0;
      for (const item of list) total += item.length;
      if (totalLength !== undefined) total = totalLength >>> 0;
      const out = new Buffer(total);
      let offset = 0;
      for (const item of list) {
        if (offset >= total) break;
        const view = asBytesView(item);
        if (!view) throw new TypeError("The \"list\" argument must contain only Buffer or Uint8Array instances.");
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

    fill(value, start, end, encoding) {
      if (typeof value === "string") {
        const bytes = native.decodeToArray(value, normaliseEncoding(encoding, "utf8"));
        const from = start === undefined ? 0 : start >>> 0;
        const to = end === undefined ? this.length : Math.min(end >>> 0, this.length);
        if (bytes.length === 0) return super.fill(0, from, to);
        for (let i = from; i < to; i++) this[i] = bytes[(i - from) % bytes.length];
        return this;
      }
      return super.fill(value, start, end);
    }

    toString(encoding, start, end) {
      const view = start === undefined && end === undefined ? this : this.subarray(start, end);
      return native.encodeBytes(latin1Of(view), normaliseEncoding(encoding, "utf8"));
    }

    toJSON() {
      return { type: "Buffer", data: Array.from(this) };
    }

    equals(other) {
      return Buffer.compare(this, other) === 0;
    }

    compare(other) {
      return Buffer.compare(this, other);
    }

    slice(start, end) {
      return this.subarray(start, end);
    }

    write(string, offset, length, encoding) {
      if (typeof offset === "string") {
        encoding = offset;
        offset = 0;
      }
      const bytes = native.decodeToArray(String(string), normaliseEncoding(encoding, "utf8"));
      const from = offset === undefined ? 0 : offset >>> 0;
      const max = Math.min(bytes.length, this.length - from, length === undefined ? Infinity : length >>> 0);
      for (let i = 0; i < max; i++) this[from + i] = bytes[i];
      return Math.max(max, 0);
    }
  }

  const wrapBytes = (u8) => new Buffer(u8.buffer, u8.byteOffset, u8.length);

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
      return version === 1 ? markBytes(result) : Buffer.from(result, "latin1");
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
  const isByteString = (s) => !/[^\x00-\xff]/.test(s);

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
  if (version === 2) setGlobal("Buffer", Buffer);

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
  for (const name of ["WeakRef", "FinalizationRegistry", "queueMicrotask", "performance"]) {
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
  const pending = [globalThis, ...hidden, crypto, querystring, cloudfront, bufferModule, Hash, KeyValueStoreHandle];
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

  // ---- host interface -------------------------------------------------------------------------

  return ObjectFreeze({
    // Starts an invocation: fresh per-invocation state, a fresh instance of the user's
    // top-level code, then the handler call with the event the engine built. Returns what the
    // handler returned (maybe a promise).
    run(factory, event, rawQuery, now, type, seed0, seed1) {
      startInvocation(now, type, seed0, seed1);
      defineProperty(event.request, "rawQueryString", {
        value: function rawQueryString() {
          return rawQuery == null ? undefined : rawQuery;
        },
        writable: true,
        configurable: true,
      });
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
