package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering fails when a package imports a polylink package the layering
// in docs/DESIGN.md does not allow it to: arrows go one way, cmd → router →
// aggregator → {dedup, session → wire, classify} and cmd → linkmon; neither
// the testbed nor the tools under scripts/ import a data-path package; the
// leaf packages under internal/ import no polylink package and every package
// may import them. Test files are not counted.
func TestLayering(t *testing.T) {
	const mod = "github.com/polylink/polylink/"
	dataPath := []string{"wire", "dedup", "session", "classify", "linkmon", "aggregator", "router"}
	allowed := map[string][]string{
		"wire":       {"internal"},
		"dedup":      {"internal"},
		"classify":   {"internal"},
		"linkmon":    {"internal"},
		"session":    {"wire", "internal"},
		"aggregator": {"wire", "dedup", "session", "classify", "internal"},
		"router":     {"aggregator", "internal"},
	}
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			dep := strings.TrimPrefix(imp, mod)
			top := strings.SplitN(dep, "/", 2)[0]
			switch {
			case strings.HasPrefix(pkg, "cmd/"):
				// cmd wires everything together.
			case strings.HasPrefix(pkg, "internal/"):
				t.Errorf("%s imports %s: the packages under internal/ are leaves and import no polylink package", pkg, dep)
			case strings.HasPrefix(pkg, "testbed"), strings.HasPrefix(pkg, "scripts/"):
				// Measurement tools drive polylink from outside, as the
				// testbed does.
				for _, d := range dataPath {
					if top == d {
						t.Errorf("%s imports data-path package %s: the testbed drives polylink from outside", pkg, dep)
					}
				}
			default:
				rules, known := allowed[pkg]
				if !known {
					t.Errorf("package %s is not in the layering table: add it to docs/DESIGN.md and here", pkg)
					continue
				}
				ok := false
				for _, a := range rules {
					ok = ok || a == top
				}
				if !ok {
					t.Errorf("%s imports %s, which the layering in docs/DESIGN.md does not allow", pkg, dep)
				}
			}
		}
	}
}
