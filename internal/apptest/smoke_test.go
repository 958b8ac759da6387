package apptest_test

import (
	"net/http"
	"strings"
	"testing"

	"preau/internal/apptest"
)

func TestDemoBootsAndServesEveryRole(t *testing.T) {
	s := apptest.StartDemo(t)
	for _, login := range []string{"eleve", "parent", "prof", "admin"} {
		b := s.LoginHTML(t, login, "demo")
		code, body := b.Get("/")
		if code != http.StatusOK || !strings.Contains(body, `<main id="main"`) {
			t.Errorf("%s home: %d", login, code)
		}
		api := s.LoginAPI(t, login, "demo")
		var me struct{ Login string }
		if code := api.Do("GET", "/api/v1/me", nil, &me); code != http.StatusOK || me.Login != login {
			t.Errorf("%s /me: %d %+v", login, code, me)
		}
	}
}
