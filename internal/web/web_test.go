package web

import "testing"

func TestSafeNextStaysOnSite(t *testing.T) {
	for in, want := range map[string]string{
		"/homework?view=week":  "/homework?view=week",
		"/messages/3#reply":    "/messages/3#reply",
		"":                     "/",
		"homework":             "/",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"/\t/evil.example":     "/",
		"/\n/evil.example":     "/",
		"/%09/evil.example":    "/%09/evil.example", // stays a local path: %09 is not decoded by browsers in the path
		"javascript:alert(1)":  "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\t/x", "/\\x", "https://x", "/a?b#c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		if len(got) == 0 || got[0] != '/' || (len(got) > 1 && (got[1] == '/' || got[1] == '\\')) {
			t.Fatalf("safeNext(%q) = %q leaves the site", s, got)
		}
		for _, r := range got {
			if r < 0x20 || r == '\\' {
				t.Fatalf("safeNext(%q) = %q keeps %q", s, got, r)
			}
		}
	})
}
