/* Préau shield: proof-of-work search (runs in a Web Worker).
 * Finds a decimal counter such that SHA-256(token + ":" + counter) has at
 * least `difficulty` leading zero bits. Plain JavaScript with its own
 * SHA-256: crypto.subtle is asynchronous, exists only in secure contexts and
 * costs far more per call than one compression of a 64-byte block. The bytes
 * of token + ":" that fill whole 64-byte blocks are hashed once (midstate);
 * each attempt then compresses only the one or two tail blocks.
 * The same file works as a worker, as a plain <script> (fallback when
 * workers are unavailable: it defines self.preauPow) and in Node (tests). */
'use strict';
(function (root) {
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
  var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var W = new Int32Array(64);

  // compress mixes the 64-byte block at buf[off..off+64) into st (8 words).
  function compress(st, buf, off) {
    var i, t1, t2, x, y;
    for (i = 0; i < 16; i++) {
      x = off + 4 * i;
      W[i] = (buf[x] << 24) | (buf[x + 1] << 16) | (buf[x + 2] << 8) | buf[x + 3];
    }
    for (i = 16; i < 64; i++) {
      x = W[i - 15]; y = W[i - 2];
      W[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
        (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + W[i - 7] + W[i - 16] | 0;
    }
    var a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    for (i = 0; i < 64; i++) {
      t1 = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) + K[i] + W[i] | 0;
      t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
        ((a & b) ^ (a & c) ^ (b & c)) | 0;
      h = g; g = f; f = e; e = d + t1 | 0; d = c; c = b; b = a; a = t1 + t2 | 0;
    }
    st[0] = st[0] + a | 0; st[1] = st[1] + b | 0; st[2] = st[2] + c | 0; st[3] = st[3] + d | 0;
    st[4] = st[4] + e | 0; st[5] = st[5] + f | 0; st[6] = st[6] + g | 0; st[7] = st[7] + h | 0;
  }

  // Search prepares the hashing of token + ":" + counter for many counters.
  // The token is ASCII (base64url and "."); other characters are refused.
  function Search(token) {
    var p = token + ':', n = p.length, i;
    for (i = 0; i < n; i++) {
      if (p.charCodeAt(i) > 0x7e) { throw new Error('token is not ASCII'); }
    }
    var full = n - (n % 64);
    var buf = new Uint8Array(full > 0 ? full : 1);
    for (i = 0; i < full; i++) { buf[i] = p.charCodeAt(i); }
    this.mid = new Int32Array(IV);
    for (i = 0; i < full; i += 64) { compress(this.mid, buf, i); }
    this.plen = n;
    this.rlen = n - full;
    this.tail = new Uint8Array(192);
    for (i = 0; i < this.rlen; i++) { this.tail[i] = p.charCodeAt(full + i); }
    this.st = new Int32Array(8);
    this.dig = new Uint8Array(20);
  }

  // hash computes SHA-256(token + ":" + counter) into this.st and returns it.
  Search.prototype.hash = function (counter) {
    var tail = this.tail, dig = this.dig, k = 0, i, c = counter;
    do { dig[k++] = 48 + (c % 10); c = Math.floor(c / 10); } while (c > 0);
    var t = this.rlen;
    for (i = k - 1; i >= 0; i--) { tail[t++] = dig[i]; }
    tail[t++] = 0x80;
    var blocks = t + 8 <= 64 ? 1 : 2, end = blocks * 64 - 8;
    for (; t < end; t++) { tail[t] = 0; }
    var bits = (this.plen + k) * 8; // < 2^32: the token is a few hundred bytes
    tail[end] = 0; tail[end + 1] = 0; tail[end + 2] = 0; tail[end + 3] = 0;
    tail[end + 4] = bits >>> 24; tail[end + 5] = (bits >>> 16) & 255;
    tail[end + 6] = (bits >>> 8) & 255; tail[end + 7] = bits & 255;
    var st = this.st;
    st.set(this.mid);
    compress(st, tail, 0);
    if (blocks === 2) { compress(st, tail, 64); }
    return st;
  };

  // run tries counters start, start+step, ... (count of them) and returns
  // the first that meets the difficulty, or -1.
  Search.prototype.run = function (start, step, count, difficulty) {
    var c = start, i, st, z;
    for (i = 0; i < count; i++, c += step) {
      st = this.hash(c);
      z = Math.clz32(st[0]);
      if (z === 32) { z += Math.clz32(st[1]); }
      if (z >= difficulty) { return c; }
    }
    return -1;
  };

  // hex returns the hexadecimal digest of token + ":" + counter (tests).
  Search.prototype.hex = function (counter) {
    var st = this.hash(counter), s = '', i;
    for (i = 0; i < 8; i++) { s += ('00000000' + (st[i] >>> 0).toString(16)).slice(-8); }
    return s;
  };

  var api = { Search: Search, batch: 8192 };

  var inWorker = typeof WorkerGlobalScope !== 'undefined' && root instanceof WorkerGlobalScope;
  if (inWorker) {
    // Message in: {token, difficulty, start, step}. Messages out:
    // {tried: n} about every batch, then {counter: c}.
    root.onmessage = function (ev) {
      var m = ev.data, s = new Search(m.token), c = m.start, found;
      for (;;) {
        found = s.run(c, m.step, api.batch, m.difficulty);
        if (found >= 0) { root.postMessage({ counter: found, tried: api.batch }); return; }
        c += m.step * api.batch;
        root.postMessage({ tried: api.batch });
      }
    };
  } else if (typeof module !== 'undefined' && module.exports) {
    module.exports = api;
  } else {
    root.preauPow = api;
  }
})(typeof self !== 'undefined' ? self : this);
