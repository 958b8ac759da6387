package shield

import (
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"
)

// refusals are the shield's own answers, short and in the visitor's
// language: they must cost almost nothing to produce under a flood.
var refusals = map[string]map[string]string{
	"fr": {
		"limited":   "Trop de requêtes depuis votre réseau. Patientez quelques secondes puis réessayez.",
		"busy":      "Le service est très demandé en ce moment. Réessayez dans quelques instants : votre place n'est pas perdue.",
		"blocked":   "Votre réseau envoie un trafic anormal et est temporairement bloqué.",
		"closed":    "Pour laisser la place aux élèves, l'accès de votre profil est fermé pour le moment.",
		"challenge": "Une vérification de votre navigateur est nécessaire : ouvrez la page dans un navigateur.",
		"title":     "Préau — patientez",
		"retry":     "Réessayer",
	},
	"en": {
		"limited":   "Too many requests from your network. Wait a few seconds and try again.",
		"busy":      "The service is in high demand right now. Try again in a moment: you have not lost your place.",
		"blocked":   "Your network is sending abnormal traffic and is blocked for a while.",
		"closed":    "To leave room for students, access for your profile is closed for now.",
		"challenge": "Your browser needs to be checked: open the page in a browser.",
		"title":     "Préau — please wait",
		"retry":     "Try again",
	},
}

var refusalPage = template.Must(template.New("r").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>{{if .CSS}}<link rel="stylesheet" href="{{.CSS}}">{{end}}</head>
<body><main id="main"><h1>{{.Title}}</h1><p role="alert">{{.Message}}</p>
<p><a href="{{.Again}}">{{.Retry}}</a></p></main></body></html>
`))

func lang(r *http.Request) string {
	al := strings.ToLower(r.Header.Get("Accept-Language"))
	if strings.HasPrefix(al, "en") {
		return "en"
	}
	return "fr"
}

// refusalBodies are the refusal answers rendered once per language and
// reason when the shield starts: under a flood most requests end here,
// and executing a template for each cost a third of the CPU. A page is
// cut in two around the "try again" link, the only part that varies.
type refusalBodies struct {
	json map[string]map[string][]byte    // lang → reason → {"error":…}
	page map[string]map[string][2][]byte // lang → reason → page before and after the link's address
}

// againMarker stands for the link's address while the pages are rendered;
// html/template leaves it as it is in a URL attribute.
const againMarker = "/__preau_again__"

func renderRefusals(stylesheet string) (refusalBodies, error) {
	b := refusalBodies{json: map[string]map[string][]byte{}, page: map[string]map[string][2][]byte{}}
	for l, texts := range refusals {
		b.json[l], b.page[l] = map[string][]byte{}, map[string][2][]byte{}
		for reason, msg := range texts {
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			body.Error.Code, body.Error.Message = "shield_"+reason, msg
			j, err := json.Marshal(body)
			if err != nil {
				return b, fmt.Errorf("shield: refusal %s/%s: %w", l, reason, err)
			}
			b.json[l][reason] = append(j, '\n')
			var page strings.Builder
			if err := refusalPage.Execute(&page, map[string]string{"Lang": l, "Title": texts["title"], "Message": msg,
				"Retry": texts["retry"], "Again": againMarker, "CSS": stylesheet}); err != nil {
				return b, fmt.Errorf("shield: refusal page %s/%s: %w", l, reason, err)
			}
			before, after, ok := strings.Cut(page.String(), againMarker)
			if !ok {
				return b, fmt.Errorf("shield: refusal page %s/%s: the link's address was escaped", l, reason)
			}
			b.page[l][reason] = [2][]byte{[]byte(before), []byte(after)}
		}
	}
	return b, nil
}

// refuse answers a request the shield turns away: JSON for API clients,
// a small accessible page for browsers, with Retry-After when known.
func (s *Shield) refuse(w http.ResponseWriter, r *http.Request, status int, reason string, wait time.Duration) {
	retryAfter(w, wait)
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	l := lang(r)
	if !isPageRequest(r) {
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		w.Write(s.refusals.json[l][reason])
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	// The address asked for, to try again: a path on this site (RequestURI
	// is already percent-encoded), escaped for the attribute.
	again := r.URL.RequestURI()
	if !strings.HasPrefix(again, "/") || strings.HasPrefix(again, "//") || strings.HasPrefix(again, "/\\") {
		again = "/"
	}
	page := s.refusals.page[l][reason]
	w.Write(page[0])
	io.WriteString(w, html.EscapeString(again))
	w.Write(page[1])
}
