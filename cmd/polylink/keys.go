package main

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/polylink/polylink/session"
)

// genkeyCommand is `polylink genkey`: a new private key on stdout, in the
// base64 form `wg genkey` prints. Like wg, it warns when stdout is a file
// others may read.
func genkeyCommand(args []string, stdout *os.File) error {
	if isHelp(args) {
		fmt.Fprintln(stdout, "usage: polylink genkey > FILE   (a new private key, base64; keep FILE mode 600)")
		return nil
	}
	if len(args) != 0 {
		return usagef("genkey takes no arguments; run 'polylink genkey > FILE'")
	}
	k, err := session.GeneratePrivateKey(rand.Reader)
	if err != nil {
		return err
	}
	if fi, err := stdout.Stat(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintln(os.Stderr, "polylink: warning: writing a private key to a file group or others can read; run 'umask 077' first")
	}
	_, err = fmt.Fprintln(stdout, k.Base64())
	return err
}

// pubkeyCommand is `polylink pubkey`: a private key on stdin, its public
// key on stdout.
func pubkeyCommand(args []string, stdin io.Reader, stdout io.Writer) error {
	if isHelp(args) {
		fmt.Fprintln(stdout, "usage: polylink pubkey < PRIVATE_KEY_FILE   (prints the public key, base64)")
		return nil
	}
	if len(args) != 0 {
		return usagef("pubkey takes no arguments; run 'polylink pubkey < PRIVATE_KEY_FILE'")
	}
	k, err := readPrivateKey(stdin)
	if err != nil {
		return fmt.Errorf("standard input: %w", err)
	}
	_, err = fmt.Fprintln(stdout, k.PublicKey())
	return err
}

func isHelp(args []string) bool {
	return len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help")
}

// readPrivateKey reads one base64 key, alone on the first line (at most a
// few hundred bytes are read, whatever the input).
func readPrivateKey(r io.Reader) (session.PrivateKey, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 256)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return session.PrivateKey{}, err
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return session.PrivateKey{}, errors.New("no private key: expected the output of 'polylink genkey'")
	}
	return session.ParsePrivateKey(line)
}

// loadKeyFile reads the private key of `run --key FILE`. A key file group
// or others can read is refused, as a private key must stay private; the
// mode is checked on the open file, so it is the file that is read.
func loadKeyFile(path string) (session.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return session.PrivateKey{}, fmt.Errorf("--key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return session.PrivateKey{}, fmt.Errorf("--key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return session.PrivateKey{}, fmt.Errorf("--key %s is readable by group or others (mode %04o): run 'chmod 600 %s'", path, perm, path)
	}
	k, err := readPrivateKey(f)
	if err != nil {
		return session.PrivateKey{}, fmt.Errorf("--key %s: %w", path, err)
	}
	return k, nil
}
