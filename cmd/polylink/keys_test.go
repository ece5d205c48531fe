package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/polylink/polylink/session"
)

// runKeys runs the polylink binary with stdin and returns exit code,
// stdout and stderr.
func runKeys(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, polylinkBinary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

func TestGenkeyPubkey(t *testing.T) {
	code, k1, stderr := runKeys(t, "", "genkey")
	if code != 0 || stderr != "" || len(k1) != 45 || !strings.HasSuffix(k1, "\n") {
		t.Fatalf("genkey: exit %d, stdout %q, stderr %q", code, k1, stderr)
	}
	_, k2, _ := runKeys(t, "", "genkey")
	if k1 == k2 {
		t.Fatal("two genkey runs printed the same key")
	}
	priv, err := session.ParsePrivateKey(strings.TrimSpace(k1))
	if err != nil {
		t.Fatal(err)
	}
	code, pub, stderr := runKeys(t, k1, "pubkey")
	if code != 0 || stderr != "" || pub != priv.PublicKey().String()+"\n" {
		t.Fatalf("pubkey: exit %d, stdout %q, stderr %q", code, pub, stderr)
	}
	// RFC 7748 §6.1, Alice, in base64 as wg prints it.
	code, pub, _ = runKeys(t, "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n", "pubkey")
	if code != 0 || pub != "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n" {
		t.Fatalf("pubkey of the RFC 7748 key: exit %d, %q", code, pub)
	}
}

func TestKeyCommandErrors(t *testing.T) {
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"genkey", "extra"}, exitUsage, "genkey takes no arguments"},
		{"", []string{"pubkey", "extra"}, exitUsage, "pubkey takes no arguments"},
		{"", []string{"pubkey"}, exitFailure, "no private key"},
		{"not a key\n", []string{"pubkey"}, exitFailure, "44 characters of base64"},
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", []string{"pubkey"}, exitFailure, "zero key"},
		{strings.Repeat("A", 100000), []string{"pubkey"}, exitFailure, "44 characters of base64"},
	} {
		code, out, stderr := runKeys(t, c.stdin, c.args...)
		if code != c.code || out != "" || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", c.args, code, out, stderr, c.code, c.want)
		}
	}
	for _, args := range [][]string{{"genkey", "-h"}, {"pubkey", "--help"}} {
		if code, out, _ := runKeys(t, "", args...); code != 0 || !strings.HasPrefix(out, "usage: polylink") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}

func TestLoadKeyFile(t *testing.T) {
	dir := t.TempDir()
	k, _ := session.GeneratePrivateKey(strings.NewReader(strings.Repeat("k", 32)))
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", k.Base64()+"\n", 0o600)
	if got, err := loadKeyFile(good); err != nil || got != k {
		t.Fatalf("mode 600 key: %v", err)
	}
	if got, err := loadKeyFile(write("ro", k.Base64(), 0o400)); err != nil || got != k {
		t.Fatalf("mode 400 key without newline: %v", err)
	}
	for _, c := range []struct {
		path string
		want string
	}{
		{write("group", k.Base64()+"\n", 0o640), "readable by group or others (mode 0640): run 'chmod 600"},
		{write("other", k.Base64()+"\n", 0o604), "readable by group or others (mode 0604)"},
		{write("garbage", "hello\n", 0o600), "44 characters of base64"},
		{write("empty", "", 0o600), "no private key"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		_, err := loadKeyFile(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line with %q", filepath.Base(c.path), err, c.want)
		}
	}
}
