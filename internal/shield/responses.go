package shield

import (
	"encoding/json"
	"html/template"
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

// refuse answers a request the shield turns away: JSON for API clients,
// a small accessible page for browsers, with Retry-After when known.
func (s *Shield) refuse(w http.ResponseWriter, r *http.Request, status int, reason string, wait time.Duration) {
	retryAfter(w, wait)
	w.Header().Set("Cache-Control", "no-store")
	l := lang(r)
	msg := refusals[l][reason]
	if !isPageRequest(r) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		var body struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		body.Error.Code, body.Error.Message = "shield_"+reason, msg
		json.NewEncoder(w).Encode(body)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	again := r.URL.RequestURI()
	if !strings.HasPrefix(again, "/") || strings.HasPrefix(again, "//") {
		again = "/"
	}
	refusalPage.Execute(w, map[string]string{"Lang": l, "Title": refusals[l]["title"], "Message": msg,
		"Retry": refusals[l]["retry"], "Again": again, "CSS": s.cfg.Stylesheet})
}
