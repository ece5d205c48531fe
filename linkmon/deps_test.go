package linkmon

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsNoPolylinkPackage holds the layering rule: linkmon sits at the
// bottom (cmd → linkmon) and imports no other polylink package but the
// leaf packages under internal/. Only its tests may use the testbed.
func TestImportsNoPolylinkPackage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/polylink/polylink") &&
				!strings.HasPrefix(path, "github.com/polylink/polylink/internal/") {
				t.Errorf("%s imports %s; linkmon must not import other polylink packages", name, path)
			}
		}
	}
}
