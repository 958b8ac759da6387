// Package browsertest drives the real Préau pages in a headless Chromium,
// through the Chrome DevTools Protocol (github.com/chromedp/chromedp), the
// way pupils, parents and teachers use them: typing into the login form,
// clicking links and buttons, picking a file for a hand-in.
//
// The package holds tests only. Each test boots the whole program with
// [preau/internal/apptest.StartDemo] (the seeded demo school, password
// "demo" for every account) and starts its own browser, with a fresh
// profile in a temporary directory. Every person of a scenario gets a
// separate browser context, so cookies never leak from one to the next.
//
// What the tests cover:
//
//   - the hand-in journey: a pupil hands in a file and gets a receipt with
//     its SHA-256, the teacher marks it, the parent reads the mark;
//   - the same hand-in with JavaScript disabled, since every page is a
//     plain form;
//   - the English interface for a browser that asks for English;
//   - the keyboard: the skip link comes first and moves the focus to the
//     main content;
//   - the weight of the pupil's home page (under 60 KB with its CSS) and the
//     absence of any third-party request;
//   - the live class (live_test.go), with Chromium's fake camera and
//     microphone: a teacher publishes and three pupils decode the video and
//     receive the sound (getStats on their subscriber connections); chat
//     and raised hands round-trip; a pupil's forced offer to publish is
//     refused until the teacher gives the floor, then the teacher hears
//     the pupil; a pupil whose line drops comes back with the hand, the
//     whiteboard and what was said meanwhile; the room works from the
//     keyboard and fits a phone's screen; with a waiting room a pupil
//     waits (the page says so) until the teacher lets them in, a locked
//     room refuses a pupil never admitted (with the page's message) but
//     lets back one admitted earlier; "mute all" takes a pupil's
//     microphone back (the page stops sending, the teacher stops hearing)
//     and a removed pupil's page says so and a reload does not bring them
//     back; a poll's counts show to the teacher as pupils vote and to the
//     pupils once it is closed; a PDF uploaded in the room reaches the
//     pupils as decoded page images that follow the teacher's page, and a
//     line drawn with the mouse on the teacher's whiteboard is drawn on
//     the pupils' canvases; a teacher whose line drops publishes again on
//     coming back and the pupil decodes new frames. Each person is a
//     browser context of their own, and every wait is for a condition,
//     bounded by a generous deadline, never a timing.
//
// The browser is /usr/bin/chromium (Debian's package). When it is missing
// the tests are skipped, unless PREAU_REQUIRE_BROWSER=1, which CI sets so
// that a missing browser fails the build instead of passing silently. The
// slides test needs poppler's pdftoppm and pdfinfo (poppler-utils) in the
// same way.
// Screenshots of the pupil's home page (412 px wide, a common phone), of
// the receipt and of the live class's room go to /tmp/preau-shots/ for a
// human to look at; they are not compared with anything.
//
// Run them with:
//
//	go test -race ./internal/browsertest/
package browsertest
