// Package shield keeps logged-in students served through a lockdown-morning
// surge and an HTTP flood many times the backend's capacity, and lets
// newcomers in fairly instead of failing them.
//
// Every request goes through the cheapest checks first:
//
//  1. connection layer (package netguard): timeouts, per-address and
//     per-prefix connection caps, the client address from the TCP peer or,
//     only from trusted proxies, the PROXY protocol or X-Forwarded-For;
//  2. classification: a signed-in user (the session token's HMAC tag,
//     verified without a database round trip), a challenge or waiting-room
//     pass holder, an allowlisted network, or anonymous;
//  3. rate limits per address and per prefix in bounded memory (ratelimit);
//  4. adaptive admission control partitioned by priority, with a separate
//     budget for password logins (admission);
//  5. the waiting room for newcomers when capacity is reached (waitroom);
//  6. a proof-of-work challenge in attack mode, never for signed-in users
//     (challenge);
//  7. inline detection with an escalation ladder (detect), whose events feed
//     the evidence log.
//
// The shield runs inside `preau serve` and alone as `preau shield
// --upstream URL` in front of another portal.
package shield
