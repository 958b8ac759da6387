// Durability of hand-ins with the real binary (go build ./cmd/preau, run as
// a subprocess): a submission acknowledged with 201 survives an immediate
// kill -9 — after `preau serve` restarts on the same data directory the
// submission has the same submitted_at, file digests and receipt MAC, and
// the file downloads with the same bytes; neither serve nor demo reseeds
// existing data. And a graceful stop: SIGTERM sent while a slow upload is in
// flight lets that upload finish with 201, then the process exits 0 after
// logging "database closed cleanly".
package apptest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"preau/internal/apptest"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// preauBinary builds cmd/preau once per test binary.
func preauBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		goCmd, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("go command not found: %w", err)
			return
		}
		out, err := exec.Command(goCmd, "env", "GOMOD").Output()
		gomod := strings.TrimSpace(string(out))
		if err != nil || gomod == "" || gomod == os.DevNull {
			buildErr = fmt.Errorf("go env GOMOD: %q %v", gomod, err)
			return
		}
		if binDir, err = os.MkdirTemp("", "preau-bin-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "preau")
		build := exec.Command(goCmd, "build", "-o", binPath, "./cmd/preau")
		build.Dir = filepath.Dir(gomod)
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/preau: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is a preau subprocess.
type process struct {
	cmd    *exec.Cmd
	URL    string
	out    *procOutput
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

var listeningRE = regexp.MustCompile(`msg="preau listening" addr=(\S+)`)

// procOutput collects stdout and stderr and spots the listening address.
type procOutput struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
	seen bool
}

func (o *procOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.seen {
		if m := listeningRE.FindStringSubmatch(o.buf.String()); m != nil {
			o.seen = true
			o.addr <- m[1]
		}
	}
	return len(p), nil
}

func (o *procOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// startPreau runs the binary with args and waits until it listens.
func startPreau(t *testing.T, args ...string) *process {
	t.Helper()
	args = append(append([]string{args[0]}, apptest.LiveFlags...), args[1:]...)
	cmd := exec.Command(preauBinary(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PREAU_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out := &procOutput{addr: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case addr := <-out.addr:
		p.URL = "http://" + addr
	case <-p.exited:
		t.Fatalf("preau %v exited before listening: %v\n%s", args, p.err, out)
	case <-time.After(2 * time.Minute):
		t.Fatalf("preau %v did not listen within 2 minutes:\n%s", args, out)
	}
	return p
}

// wait waits for the process to exit and returns Wait's error.
func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(2 * time.Minute):
		t.Fatalf("preau did not exit within 2 minutes:\n%s", p.out)
		return nil
	}
}

// stop sends SIGTERM and checks a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t); err != nil {
		t.Errorf("preau exited with %v:\n%s", err, p.out)
	}
}

func (p *process) server(dir string) *apptest.Server { return &apptest.Server{URL: p.URL, Data: dir} }

func TestSubmissionSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	p := startPreau(t, "demo", "--addr", "127.0.0.1:0", "--data", dir)
	srv := p.server(dir)
	eleve := srv.LoginAPI(t, "eleve", demoPassword)
	before := listHomework(t, eleve)
	maths := findHomework(t, eleve, "Devoir maison n° 3 : fractions")
	data := pdf("copie avant le crash", 300_000)
	code, sub, ae := submit(t, srv, eleve, maths.ID, "Rendu juste avant la panne.", upload{"copie.pdf", "application/pdf", data})
	if code != http.StatusCreated {
		t.Fatalf("submit: %d %+v", code, ae)
	}
	if err := p.cmd.Process.Kill(); err != nil { // SIGKILL, right after the receipt
		t.Fatal(err)
	}
	if err := p.wait(t); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("after kill -9: %v", err)
	}

	check := func(t *testing.T, srv *apptest.Server) {
		t.Helper()
		a := srv.LoginAPI(t, "eleve", demoPassword)
		code, got := getSubmission(t, a, sub.ID)
		if code != http.StatusOK {
			t.Fatalf("submission %d after restart: %d", sub.ID, code)
		}
		if !got.SubmittedAt.Equal(sub.SubmittedAt) || got.Text != sub.Text || len(got.Files) != 1 ||
			got.Files[0].SHA256 != sha(data) || got.Files[0].Size != int64(len(data)) ||
			got.Receipt == nil || got.Receipt.MAC != sub.Receipt.MAC {
			t.Errorf("after restart: %+v\nwant %+v", got, sub)
		}
		code, body := srv.LoginHTML(t, "eleve", demoPassword).Get("/submissions/" + id(sub.ID) + "/files/" + sha(data))
		if code != http.StatusOK || body != string(data) {
			t.Errorf("download after restart: %d, %d bytes (same: %t)", code, len(body), body == string(data))
		}
		if after := listHomework(t, a); len(after) != len(before) {
			t.Errorf("eleve has %d homework after restart, %d before: the data was reseeded", len(after), len(before))
		}
	}

	p = startPreau(t, "serve", "--addr", "127.0.0.1:0", "--data", dir)
	check(t, p.server(dir))
	// A token issued before the crash is still valid: sessions live in the database.
	req, _ := http.NewRequest("GET", p.URL+"/api/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+eleve.Token)
	if code := eleve.Send(req, nil); code != http.StatusOK {
		t.Errorf("token from before the crash: %d, want 200", code)
	}
	p.stop(t)

	// `preau demo` on existing data does not seed again.
	p = startPreau(t, "demo", "--addr", "127.0.0.1:0", "--data", dir)
	if !strings.Contains(p.out.String(), "Existing data found: not seeding again.") {
		t.Errorf("demo on existing data:\n%s", p.out)
	}
	check(t, p.server(dir))
	p.stop(t)
}

func TestGracefulStopFinishesUploads(t *testing.T) {
	dir := t.TempDir()
	p := startPreau(t, "demo", "--addr", "127.0.0.1:0", "--data", dir)
	srv := p.server(dir)
	eleve := srv.LoginAPI(t, "eleve", demoPassword)
	maths := findHomework(t, eleve, "Devoir maison n° 3 : fractions")

	// The body streams through a pipe: a first part, then, once SIGTERM
	// is sent, the rest in slow chunks (about a second in all).
	const chunk, chunks = 16 << 10, 10
	var parts [][]byte
	for i := range chunks {
		parts = append(parts, pdf("morceau "+strconv.Itoa(i), chunk))
	}
	sent := bytes.Join(parts, nil)
	pr, pw := io.Pipe()
	defer pr.Close() // on an early failure, unblocks the writer
	mw := multipart.NewWriter(pw)
	proceed := make(chan struct{})
	release := sync.OnceFunc(func() { close(proceed) })
	defer release()
	go func() {
		err := func() error {
			if err := mw.WriteField("text", "Envoyé pendant l'arrêt."); err != nil {
				return err
			}
			fw, err := mw.CreateFormFile("files", "lent.bin")
			if err != nil {
				return err
			}
			for i, b := range parts {
				if i == 1 {
					<-proceed
				}
				if i > 0 {
					time.Sleep(100 * time.Millisecond)
				}
				if _, err := fw.Write(b); err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest("POST", p.URL+"/api/v1/homework/"+id(maths.ID)+"/submissions", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+eleve.Token)
	type result struct {
		code int
		body []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{}).Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, b, err}
	}()

	// Wait until the server is handling the upload: the in-flight gauge
	// counts it and the /metrics request itself.
	deadline := time.Now().Add(time.Minute)
	for inFlight(t, p.URL) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the upload never showed as in flight")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	release()

	r := <-done
	if r.err != nil || r.code != http.StatusCreated {
		t.Fatalf("upload during shutdown: %d %v %s", r.code, r.err, r.body)
	}
	var sub submissionJSON
	if err := json.Unmarshal(r.body, &sub); err != nil {
		t.Fatal(err)
	}
	if len(sub.Files) != 1 || sub.Files[0].SHA256 != sha(sent) || sub.Files[0].Size != chunk*chunks {
		t.Errorf("receipt files %+v, sent %d bytes with sha256 %s", sub.Files, len(sent), sha(sent))
	}
	if err := p.wait(t); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, p.out)
	}
	logs := p.out.String()
	for _, want := range []string{"shutting down: finishing in-flight requests", "database closed cleanly"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the log:\n%s", want, logs)
		}
	}

	// And the upload is there after a restart.
	p = startPreau(t, "serve", "--addr", "127.0.0.1:0", "--data", dir)
	if code, got := getSubmission(t, p.server(dir).LoginAPI(t, "eleve", demoPassword), sub.ID); code != http.StatusOK || !got.SubmittedAt.Equal(sub.SubmittedAt) {
		t.Errorf("after restart: %d %+v", code, got)
	}
	p.stop(t)
}

var inFlightRE = regexp.MustCompile(`(?m)^preau_http_requests_in_flight (\d+)`)

// inFlight reads the in-flight request gauge from /metrics.
func inFlight(t *testing.T, base string) int {
	t.Helper()
	resp, body := fetch(t, nil, "GET", base+"/metrics", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	m := inFlightRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no in-flight gauge in /metrics")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
