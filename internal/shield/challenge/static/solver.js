/* Préau shield: runs the proof-of-work search of the challenge page in Web
 * Workers (worker.js), shows progress, then submits the form. Without
 * workers it loads worker.js as a script and searches on the main thread in
 * short slices. Texts come from the form's data-* attributes (localized by
 * the server). */
'use strict';
(function () {
  var form = document.getElementById('preau-pow');
  if (!form) { return; }
  var statusEl = document.getElementById('preau-pow-status');
  var barBox = document.getElementById('preau-pow-bar');
  var bar = document.getElementById('preau-pow-progress');
  var slow = document.getElementById('preau-pow-slow');
  var button = form.querySelector('button');
  var workerURL = form.getAttribute('data-worker');
  var difficulty = parseInt(form.getAttribute('data-difficulty'), 10);
  var token = form.elements.token.value;
  var expected = Math.pow(2, difficulty);
  var tried = 0, finished = false, workers = [];

  function say(text) { statusEl.textContent = text; }

  // Progress is the chance of having found an answer after `tried`
  // attempts, so the bar moves steadily and never claims 100% too early.
  function progress(n) {
    tried += n;
    bar.value = Math.min(99, Math.floor(100 * (1 - Math.exp(-tried / expected))));
  }

  function found(counter) {
    if (finished) { return; }
    finished = true;
    for (var i = 0; i < workers.length; i++) { workers[i].terminate(); }
    form.elements.counter.value = String(counter);
    bar.value = 100;
    say(form.getAttribute('data-done'));
    button.hidden = false;
    form.submit();
  }

  function fail() {
    if (finished) { return; }
    finished = true;
    for (var i = 0; i < workers.length; i++) { workers[i].terminate(); }
    say(form.getAttribute('data-failed'));
    slow.hidden = false;
    var link = slow.querySelector('a');
    if (link) { link.focus(); }
  }

  // Main-thread search, 20 ms at a time so the page stays responsive.
  function mainThread() {
    var s = document.createElement('script');
    s.src = workerURL;
    s.onerror = fail;
    s.onload = function () {
      if (!window.preauPow) { fail(); return; }
      var search = new window.preauPow.Search(token), c = 0, batch = 512;
      (function slice() {
        if (finished) { return; }
        var t0 = Date.now();
        while (Date.now() - t0 < 20) {
          var r = search.run(c, 1, batch, difficulty);
          if (r >= 0) { found(r); return; }
          c += batch;
          progress(batch);
        }
        setTimeout(slice, 0);
      })();
    };
    document.head.appendChild(s);
  }

  function start() {
    barBox.hidden = false;
    say(form.getAttribute('data-working'));
    // A phone slower than planned is offered the waiting room after 4 s.
    setTimeout(function () { if (!finished) { slow.hidden = false; } }, 4000);
    var n = Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 4));
    try {
      for (var i = 0; i < n; i++) {
        var w = new Worker(workerURL);
        w.onmessage = function (ev) {
          if (ev.data.tried) { progress(ev.data.tried); }
          if (typeof ev.data.counter === 'number') { found(ev.data.counter); }
        };
        w.onerror = function (ev) {
          if (ev && ev.preventDefault) { ev.preventDefault(); }
          if (!finished && workers.length > 0) {
            for (var j = 0; j < workers.length; j++) { workers[j].terminate(); }
            workers = [];
            mainThread();
          }
        };
        w.postMessage({ token: token, difficulty: difficulty, start: i, step: n });
        workers.push(w);
      }
    } catch (e) {
      for (var k = 0; k < workers.length; k++) { workers[k].terminate(); }
      workers = [];
      mainThread();
    }
  }

  if (isNaN(difficulty) || !token) { fail(); return; }
  start();
})();
