package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"preau/internal/app"
	"preau/internal/config"
	"preau/internal/demo"
)

// benchApp opens an app on a demo school of 30 classes × 30 students and
// returns bearer tokens and session cookies of many students.
func benchApp(b *testing.B) (*app.App, []string) {
	b.Helper()
	cfg := &config.Config{}
	cfgFlags(cfg)
	cfg.DataDir = b.TempDir()
	a, err := app.Open(b.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	if _, err := demo.Seed(context.Background(), a.Store, a.Auth.Hasher(), demo.Size{Classes: 30, Students: 30}, time.Now(), cfg.Location()); err != nil {
		b.Fatal(err)
	}
	var tokens []string
	for c := 1; c <= 30; c++ {
		for s := 2; s <= 8; s++ {
			u, _, err := a.Store.UserByLogin(b.Context(), fmt.Sprintf("e%d.%d", c, s))
			if err != nil {
				b.Fatal(err)
			}
			tok, _, err := a.Auth.Open(b.Context(), u, "bench")
			if err != nil {
				b.Fatal(err)
			}
			tokens = append(tokens, tok)
		}
	}
	return a, tokens
}

func cfgFlags(c *config.Config) {
	*c = config.Config{Addr: "127.0.0.1:0", BaseURL: "http://127.0.0.1", Timezone: "Europe/Paris", MaxUploadBytes: 20 << 20, MinBodyRate: 512,
		MaxFiles: 10, SessionIdle: 12 * time.Hour, CacheTTL: 10 * time.Second, LogLevel: "error", LogFormat: "text"}
	c.Argon2.Memory, c.Argon2.Time, c.Argon2.Threads, c.Argon2.SaltLen, c.Argon2.KeyLen = 64, 1, 1, 16, 32
}

// BenchmarkHomeworkJSON is the in-process cost of GET /api/v1/homework for
// a student (no network): the handler's share of the load test.
func BenchmarkHomeworkJSON(b *testing.B) {
	a, tokens := benchApp(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := httptest.NewRequest("GET", "/api/v1/homework", nil)
			req.Header.Set("Authorization", "Bearer "+tokens[i%len(tokens)])
			rec := httptest.NewRecorder()
			a.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
			i++
		}
	})
}

// BenchmarkStudentHome is the in-process cost of the HTML home page.
func BenchmarkStudentHome(b *testing.B) {
	a, tokens := benchApp(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: "preau_session", Value: tokens[i%len(tokens)]})
			rec := httptest.NewRecorder()
			a.Handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "<main") {
				b.Fatalf("status %d", rec.Code)
			}
			i++
		}
	})
}
