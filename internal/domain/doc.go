// Package domain holds Préau's domain types, the errors every layer shares,
// and the store interfaces that persistence implementations satisfy.
//
// Nothing here knows about HTTP or SQL: handlers translate domain errors to
// status codes, store packages translate driver errors to domain sentinels.
// This follows the "standard package layout" (WTF Dial): the vocabulary of
// the application at the centre, one package per outside dependency around it.
package domain
