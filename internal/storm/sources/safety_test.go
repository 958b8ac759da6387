package sources

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTargetLoopback(t *testing.T) {
	for _, target := range []string{
		"http://127.0.0.1:8080/",
		"127.0.0.1",
		"127.0.0.1:8080",
		"https://127.42.3.4/login",
		"http://[::1]:8080/",
		"[::1]",
		"http://[::ffff:127.0.0.1]/",
		"localhost",
		"http://localhost:8080/home",
		"http://LOCALHOST/",
	} {
		if err := CheckTarget(target, false); err != nil {
			t.Errorf("CheckTarget(%q, false) = %v, want nil", target, err)
		}
	}
}

func TestCheckTargetRefuses(t *testing.T) {
	for _, target := range []string{
		"http://10.0.0.1/",
		"192.168.1.1",
		"192.168.1.1:443",
		"8.8.8.8",
		"http://[2001:db8::1]/",
		"http://0.0.0.0:8080/",
		"http://example.com/",
		"example.com:80",
	} {
		err := CheckTarget(target, false)
		if err == nil {
			t.Errorf("CheckTarget(%q, false) = nil, want a refusal", target)
			continue
		}
		if !errors.Is(err, ErrNotLoopback) || !strings.Contains(err.Error(), OwnTargetFlag) {
			t.Errorf("CheckTarget(%q, false) = %v, want ErrNotLoopback naming %s", target, err, OwnTargetFlag)
		}
		if err := CheckTarget(target, true); err != nil {
			t.Errorf("CheckTarget(%q, true) = %v, want nil", target, err)
		}
	}
}

func TestCheckTargetMalformed(t *testing.T) {
	for _, target := range []string{"", "   ", "http://", "http://:8080/", "http://[::1/"} {
		for _, own := range []bool{false, true} {
			if err := CheckTarget(target, own); err == nil {
				t.Errorf("CheckTarget(%q, %v) = nil, want an error", target, own)
			}
		}
	}
}
