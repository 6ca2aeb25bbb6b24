package migrations

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// FS returns the migrations of one backend ("postgres" or "sqlite").
func FS(backend string) (fs.FS, error) {
	switch backend {
	case "postgres", "sqlite":
		return fs.Sub(files, backend)
	}
	return nil, fmt.Errorf("migrations: unknown backend %q", backend)
}
