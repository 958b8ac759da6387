package httpx

import "net/http"

// csp allows only same-origin resources and no inline script or style: the
// pages carry their CSS and the little JavaScript they use as files.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// SecurityHeaders sets the headers every response carries. hsts adds
// Strict-Transport-Security, which is only meaningful over TLS.
func SecurityHeaders(hsts bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		if hsts || r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// SecurityHeadersFor sets the headers only on the responses for which
// mine is true: a proxy in front of another portal adds them to its own
// pages and leaves the portal's responses as the portal sent them.
func SecurityHeadersFor(mine func(*http.Request) bool, hsts bool, next http.Handler) http.Handler {
	secured := SecurityHeaders(hsts, next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mine(r) {
			secured.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
