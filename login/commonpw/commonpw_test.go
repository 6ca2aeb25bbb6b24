package commonpw

import (
	"sort"
	"testing"
)

// TestContains: the most common passwords are found whatever their case;
// a long random one is not; the list is whole and sorted (binary search).
func TestContains(t *testing.T) {
	if n := Len(); n != 100000 {
		t.Fatalf("%d passwords in the list, want 100000", n)
	}
	if !sort.SliceIsSorted(list.start, func(i, j int) bool { return at(i) < at(j) }) {
		t.Fatal("the list is not sorted")
	}
	for _, p := range []string{"password", "12345678", "qwertyuiop", "password123", "PassWord1", "iloveyou", "11111111"} {
		if !Contains(p) {
			t.Errorf("%q not found", p)
		}
	}
	for _, p := range []string{"correct horse battery staple", "c0mmon?-not-this-one-9f8e", "", "passwor"} {
		if Contains(p) {
			t.Errorf("%q found", p)
		}
	}
}

// BenchmarkContains is one lookup, the list loaded.
func BenchmarkContains(b *testing.B) {
	Len()
	for b.Loop() {
		Contains("a reasonably long passphrase")
	}
}
