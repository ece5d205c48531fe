package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the polylink binary the end-to-end tests built (see
// polylinkBinary): one per test run would otherwise stay in the temporary
// directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if binaryPath != "" {
		os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}
