// Package migrations embeds the numbered SQL migrations of each backend
// (postgres/, sqlite/) into the binary. They are applied by goose
// (github.com/pressly/goose/v3) from storage/sqlstore; this package only owns
// the files. Migrations are append-only: a released file is never edited, a
// change is a new number, and every number exists for both backends.
package migrations
