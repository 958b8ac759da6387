package shield

import (
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// NewProxy returns the reverse proxy `preau shield --upstream` puts behind
// the shield, for portals Préau does not run (Moodle, an ENT). The client
// address the shield settled on is passed upstream in X-Forwarded-For
// (replacing whatever the client sent) and X-Real-IP.
func NewProxy(upstream *url.URL, s *Shield, log *slog.Logger) http.Handler {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.Out.Host = pr.In.Host
			client := s.clientAddr(pr.In).String()
			pr.Out.Header.Set("X-Forwarded-For", client)
			pr.Out.Header.Set("X-Real-IP", client)
			pr.Out.Header.Set("X-Forwarded-Proto", scheme(pr.In))
		},
		Transport: &http.Transport{
			Proxy:                 nil,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client left
			}
			log.Warn("upstream unreachable", "err", err)
			s.refuse(w, r, http.StatusBadGateway, "busy", 5*time.Second)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return rp
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
