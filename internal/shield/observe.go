package shield

import (
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

// DecisionObserver is implemented by a ResponseWriter, given to Handler,
// that wants the shield's Decision on its request. The shield calls
// ObserveDecision once it has decided (for admitted requests, after the
// application answered). Carrying the verdict on the writer, rather than
// in the request's context, costs a type assertion instead of a copy of
// the request: the recorder wraps every request of a flood.
type DecisionObserver interface {
	ObserveDecision(Decision)
}

// noteDecision tells w the decision, if it wants it.
func noteDecision(w http.ResponseWriter, client netip.Addr, class Class, outcome string) {
	if o, ok := w.(DecisionObserver); ok {
		o.ObserveDecision(Decision{Client: client, Class: class.String(), Outcome: outcome})
	}
}
