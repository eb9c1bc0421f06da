// relmig's expression runner, installed once in every sandbox context.
//
// Python crosses into the engine once per page of rows: `__relmig.run(id, input)` takes the
// page as JSON text (one array of the referenced column values per row), evaluates every
// expression of program `id` on every row, and returns JSON text (one array of results per
// row). Values that JSON cannot carry travel as tagged objects {"$relmig$": kind, "v": ...}.
"use strict";
(function () {
  const TAG = "$relmig$";
  const RealDate = Date;
  const refuse = (what) => () => {
    throw new Error(
      what + " is not available: an expression must give the same value every time " +
        "(CDC and verify evaluate it again)",
    );
  };
  // Expressions are functions of their row: no clock, no randomness.
  Math.random = refuse("Math.random()");
  RealDate.now = refuse("Date.now()");
  globalThis.Date = new Proxy(RealDate, {
    construct(target, args, newTarget) {
      if (args.length === 0) refuse("new Date() without arguments")();
      return Reflect.construct(target, args, newTarget);
    },
    apply: refuse("Date() without new"),
  });

  function hexBytes(hex) {
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function decode(v) {
    if (v === null || typeof v !== "object") return v;
    if (Array.isArray(v)) return v.map(decode);
    const kind = v[TAG];
    if (kind === undefined) return v;
    switch (kind) {
      case "d": return new RealDate(v.v);
      case "f": return Number(v.v);
      case "b": return hexBytes(v.v);
      case "j": return v.v;
    }
    return v;
  }

  function encode(v, depth) {
    switch (typeof v) {
      case "string":
      case "boolean":
        return v;
      case "number":
        return Number.isFinite(v) ? v : { [TAG]: "f", v: String(v) };
      case "bigint":
        return { [TAG]: "i", v: v.toString() };
      case "undefined":
        return { [TAG]: "x", v: "undefined" };
      case "function":
        return { [TAG]: "x", v: "a function" };
      case "symbol":
        return { [TAG]: "x", v: "a symbol" };
    }
    if (v === null) return null;
    if (depth > 50) return { [TAG]: "x", v: "a value nested more than 50 levels deep" };
    if (v instanceof RealDate) {
      const t = v.getTime();
      return Number.isNaN(t) ? { [TAG]: "x", v: "an invalid Date" } : { [TAG]: "d", v: t };
    }
    if (Array.isArray(v)) return v.map((x) => encode(x, depth + 1));
    if (v instanceof Uint8Array) {
      let hex = "";
      for (const b of v) hex += (b < 16 ? "0" : "") + b.toString(16);
      return { [TAG]: "b", v: hex };
    }
    if (v instanceof Promise || v instanceof RegExp || v instanceof Map || v instanceof Set) {
      return { [TAG]: "x", v: "a " + v.constructor.name };
    }
    const out = {};
    for (const k of Object.keys(v)) out[k] = encode(v[k], depth + 1);
    return { [TAG]: "o", v: out };
  }

  const programs = [];

  function value(v) {
    return v !== null && typeof v === "object" ? decode(v) : v;
  }

  // One arrow function around the text, in two wrappers that close with different brackets:
  // text that closes the arrow early to add code of its own can fit one wrapper, never both.
  // (Whatever such text ran while compiling the first found every built-in frozen, below.)
  const CLOSES_THE_WRAPPER = "the text is more than one expression (it closes the expression)";
  function compile(src) {
    const made = (0, eval)("[(columns) => (\n" + src + "\n)]");
    if (!Array.isArray(made) || made.length !== 1) throw new SyntaxError(CLOSES_THE_WRAPPER);
    let other;
    try {
      other = (0, eval)("({ f: (columns) => (\n" + src + "\n) }).f");
    } catch (e) {
      throw new SyntaxError(CLOSES_THE_WRAPPER);
    }
    if (typeof other !== "function" || typeof made[0] !== "function") {
      throw new SyntaxError(CLOSES_THE_WRAPPER);
    }
    return made[0];
  }

  globalThis.__relmig = {
    // Compile one expression only, to check it.
    check(source) {
      compile(source);
    },
    // Compile a program: its column names and expression sources. Returns its id.
    define(columns, sources, filter) {
      const fns = Array.from(sources, compile);
      // The row object built by a function made for these columns: a fixed shape is cheaper
      // than adding properties one by one.
      const fields = Array.from(columns, (c, i) => `${JSON.stringify(c)}: d(r[${i}])`);
      const row = new Function("d", `return (r) => ({ ${fields.join(", ")} });`)(value);
      programs.push({ row, fns, filter });
      return programs.length - 1;
    },
    // Evaluate program `id` on a page of rows.
    run(id, input) {
      const { row, fns, filter } = programs[id];
      const rows = JSON.parse(input);
      const out = new Array(rows.length);
      for (let r = 0; r < rows.length; r++) {
        const cols = row(rows[r]);
        const results = [];
        for (let f = 0; f < fns.length; f++) {
          try {
            const v = fns[f](cols);
            const t = typeof v;
            results.push(t === "string" || t === "boolean" || (t === "number" && Number.isFinite(v)) ? v : encode(v, 0));
          } catch (e) {
            results.push({ [TAG]: "e", v: String(e) });
          }
          if (filter && f === 0 && results[0] !== true) break; // a dropped row: no fields
        }
        out[r] = results;
      }
      return JSON.stringify(out);
    },
  };

  // Freeze every object an expression can reach, deeply: the built-ins, their prototypes and
  // the intrinsics no global names (iterator and generator prototypes, %TypedArray%), so that
  // no expression, of this project or another sharing the context, can change what any other
  // sees (a changed Array.prototype.map or iterator's next would have stayed until a restart).
  function deepFreeze(roots) {
    const seen = new Set();
    const stack = [...roots];
    while (stack.length) {
      const o = stack.pop();
      if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) {
        continue;
      }
      seen.add(o);
      for (const key of Reflect.ownKeys(o)) {
        const d = Object.getOwnPropertyDescriptor(o, key);
        if (d === undefined) continue;
        if ("value" in d) stack.push(d.value);
        else stack.push(d.get, d.set);
      }
      stack.push(Object.getPrototypeOf(o));
      Object.freeze(o);
    }
  }
  const hidden = [
    Object.getPrototypeOf([][Symbol.iterator]()),
    Object.getPrototypeOf(new Map()[Symbol.iterator]()),
    Object.getPrototypeOf(new Set()[Symbol.iterator]()),
    Object.getPrototypeOf(""[Symbol.iterator]()),
    Object.getPrototypeOf("a".matchAll(/a/g)),
    Object.getPrototypeOf(function* () {}),
    Object.getPrototypeOf(async function () {}),
    Object.getPrototypeOf(async function* () {}),
    Object.getPrototypeOf(Uint8Array),
  ];
  deepFreeze([globalThis, ...hidden]);
})();
