package api

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryRouteIsInTheOpenAPIFile keeps openapi.yaml honest: each route
// registered in api.go must appear there with its method.
func TestEveryRouteIsInTheOpenAPIFile(t *testing.T) {
	src, err := os.ReadFile("api.go")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`mux\.Handle(?:Func)?\("([A-Z]+) (/api/v1/[^"]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 15 {
		t.Fatalf("found %d routes: the scan is broken", len(routes))
	}
	// Split the spec into path blocks.
	blocks := map[string]string{}
	var cur string
	for _, line := range strings.Split(string(spec), "\n") {
		if strings.HasPrefix(line, "  /") && strings.HasSuffix(line, ":") {
			cur = strings.TrimSuffix(strings.TrimSpace(line), ":")
			continue
		}
		if cur != "" && (strings.HasPrefix(line, "    ") || line == "") {
			blocks[cur] += line + "\n"
		} else {
			cur = ""
		}
	}
	for _, r := range routes {
		method, path := strings.ToLower(r[1]), r[2]
		block, ok := blocks[path]
		if !ok {
			t.Errorf("%s %s is not in openapi.yaml", r[1], path)
			continue
		}
		if !strings.Contains(block, "\n    "+method+":") && !strings.HasPrefix(block, "    "+method+":") {
			t.Errorf("%s %s: method missing in openapi.yaml", r[1], path)
		}
	}
}
