// Player reports for openvod: what CMCD cannot say (the time to the first frame, how long
// stalls lasted, time played, errors, leaving before the first frame), sent to
// POST /v1/qoe. Each report carries the session's totals so far, so one sent twice
// changes nothing. Used by the dashboard's player and the embed snippet:
//   var report = openvodQoe(video, { asset: ID, session: SID, endpoint: ORIGIN + '/v1/qoe' });
//   report.error();   // a fatal player error
//   report.end();     // the player is torn down
(function (global) {
  function openvodQoe(video, opts) {
    var begun = performance.now();
    var totals = { asset: opts.asset, session: opts.session, rebuffers: 0, rebuffer_ms: 0, played_ms: 0, errors: 0 };
    var started = false, playingSince = null, stalledSince = null, ended = false;

    function stopClocks(at) {
      if (playingSince !== null) { totals.played_ms += at - playingSince; playingSince = null; }
      if (stalledSince !== null) { totals.rebuffer_ms += at - stalledSince; stalledSince = null; }
    }
    function snapshot(leaving) {
      var at = performance.now();
      var out = {};
      for (var k in totals) out[k] = totals[k];
      if (playingSince !== null) out.played_ms += at - playingSince;
      if (stalledSince !== null) out.rebuffer_ms += at - stalledSince;
      out.played_ms = Math.round(out.played_ms);
      out.rebuffer_ms = Math.round(out.rebuffer_ms);
      if (!started && leaving) out.exit_before_start = true;
      return out;
    }
    function send(leaving) {
      if (ended) return;
      var body = JSON.stringify(snapshot(leaving));
      // sendBeacon sends text/plain, which needs no CORS preflight and survives the page.
      if (navigator.sendBeacon && navigator.sendBeacon(opts.endpoint, body)) return;
      fetch(opts.endpoint, { method: 'POST', body: body, headers: { 'content-type': 'text/plain' }, keepalive: true }).catch(function () {});
    }

    video.addEventListener('playing', function () {
      var at = performance.now();
      var wasStalled = stalledSince !== null;
      stopClocks(at);
      playingSince = at;
      if (!started) {
        started = true;
        totals.startup_ms = Math.round(at - begun);
        send(false);
      } else if (wasStalled) {
        send(false);
      }
    });
    // A stall after the first frame is a rebuffer; buffering for a seek is not.
    video.addEventListener('waiting', function () {
      if (!started || video.seeking || stalledSince !== null) return;
      stopClocks(performance.now());
      stalledSince = performance.now();
      totals.rebuffers += 1;
    });
    video.addEventListener('pause', function () { stopClocks(performance.now()); });
    video.addEventListener('ended', function () { stopClocks(performance.now()); send(false); });
    video.addEventListener('error', function () { totals.errors += 1; send(false); });
    global.addEventListener('pagehide', function () { send(true); });
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') send(false);
    });

    return {
      error: function () { totals.errors += 1; send(false); },
      end: function () { send(true); ended = true; },
      totals: function () { return snapshot(false); },
    };
  }
  global.openvodQoe = openvodQoe;
})(window);
