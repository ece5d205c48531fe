package nsenter_test

import (
	"errors"
	"testing"

	"github.com/vishvananda/netns"

	"github.com/polylink/polylink/internal/nsenter"
	"github.com/polylink/polylink/testbed/nstest"
)

// TestDo checks that fn runs inside the namespace, that its error comes
// back unchanged, and that the caller's namespace is left as it was.
func TestDo(t *testing.T) {
	ns := nstest.Namespace(t, "pltest-nsenter")
	before, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()

	errFn := errors.New("fn failed")
	var inside bool
	err = nsenter.Do(ns.Handle(), func() error {
		cur, err := netns.Get()
		if err != nil {
			return err
		}
		defer cur.Close()
		inside = cur.Equal(ns.Handle())
		return errFn
	})
	if err != errFn {
		t.Fatalf("Do returned %v, want fn's error unchanged", err)
	}
	if !inside {
		t.Error("fn did not run inside the namespace")
	}
	after, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	if !after.Equal(before) {
		t.Error("the calling thread's namespace changed")
	}
}

// TestDoBadHandle checks that a namespace that cannot be entered is an
// error and fn never runs.
func TestDoBadHandle(t *testing.T) {
	ran := false
	err := nsenter.Do(netns.None(), func() error { ran = true; return nil })
	if err == nil || ran {
		t.Fatalf("Do(None) = %v, fn ran %v; want an error and fn not run", err, ran)
	}
}
