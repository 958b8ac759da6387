// Package i18n translates Préau's interface. French is the default; English
// is available per user or from the browser's Accept-Language.
//
// Code and templates refer to messages by key ("home.title"); validators
// return keys, not sentences (as Miniflux does), so one error can be shown in
// either language. A test checks that every key exists in every language and
// that every key the templates use is defined.
package i18n

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Languages supported, default first.
var Languages = []string{"fr", "en"}

// Default is the language used when nothing else decides.
const Default = "fr"

var catalogs = map[string]map[string]string{"fr": fr, "en": en}

// Supported reports whether lang is one of Languages.
func Supported(lang string) bool {
	_, ok := catalogs[lang]
	return ok
}

// T returns the message for key in lang, formatted with args. A missing key
// shows as the key itself, which the tests make impossible in practice.
func T(lang, key string, args ...any) string {
	cat, ok := catalogs[lang]
	if !ok {
		cat = catalogs[Default]
	}
	msg, ok := cat[key]
	if !ok {
		msg, ok = catalogs[Default][key]
		if !ok {
			return key
		}
	}
	if one, other, ok := strings.Cut(msg, "|"); ok {
		msg = other
		if n, ok := firstInt(args); ok && singular(lang, n) {
			msg = one
		}
	}
	if len(args) == 0 {
		return msg
	}
	return fmt.Sprintf(msg, args...)
}

// A message "singular|plural" is chosen by its first integer argument.
func firstInt(args []any) (int, bool) {
	for _, a := range args {
		if n, ok := a.(int); ok {
			return n, true
		}
	}
	return 0, false
}

// singular applies each language's rule: French uses the singular for 0
// and 1, English for 1 only.
func singular(lang string, n int) bool {
	if lang == "fr" || !Supported(lang) {
		return n == 0 || n == 1
	}
	return n == 1
}

// Keys returns every key of a language's catalog.
func Keys(lang string) []string {
	var out []string
	for k := range catalogs[lang] {
		out = append(out, k)
	}
	return out
}

// Match picks a supported language from an Accept-Language header,
// honouring q-values; Default if none matches.
func Match(header string) string {
	best, bestQ := Default, -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if Supported(base) && q > bestQ {
			best, bestQ = base, q
		}
	}
	return best
}

// Date formats a day as "jeudi 26 novembre" or "Thursday 26 November".
func Date(lang string, t time.Time) string {
	return T(lang, "day."+strconv.Itoa(int(t.Weekday()))) + " " + strconv.Itoa(t.Day()) + " " + T(lang, "month."+strconv.Itoa(int(t.Month())))
}

// DateTime formats a day and a time of day.
func DateTime(lang string, t time.Time) string {
	return T(lang, "datetime", Date(lang, t), t.Format("15:04"))
}

// Weekday names a day of the week.
func Weekday(lang string, d time.Weekday) string { return T(lang, "day."+strconv.Itoa(int(d))) }
