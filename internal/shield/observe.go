package shield

import (
	"context"
	"net/http"
	"net/netip"
)

// Decision is the shield's verdict on one request, for an observer that
// wraps Handler and needs more than the status it sees (the evidence
// recorder): the client address the shield settled on (trusted proxies
// applied), its class and what the shield did with it.
type Decision struct {
	Client  netip.Addr
	Class   string // "staff", "member", "pass", "allowlisted", "anonymous"
	Outcome string // "admitted", "shed", "challenged", "queued", "blocked", "limited"
}

type decisionKey struct{}

// WithDecision returns r carrying d, which the shield fills in once it has
// decided (for admitted requests, after the application answered). Only
// requests that carry a Decision pay for it: the shield's cost for the
// others is one context look-up.
func WithDecision(r *http.Request, d *Decision) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), decisionKey{}, d))
}

// noteDecision fills in the request's Decision, if it carries one.
func noteDecision(r *http.Request, client netip.Addr, class Class, outcome string) {
	if d, ok := r.Context().Value(decisionKey{}).(*Decision); ok {
		d.Client, d.Class, d.Outcome = client, class.String(), outcome
	}
}
