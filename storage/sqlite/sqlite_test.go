package sqlite_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/sqlite"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

func open(t *testing.T) storage.Store {
	t.Helper()
	s, err := sqlite.Open(storagetest.SQLitePath(t), sqlite.Config{}, sqlstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(storagetest.Ctx(t)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) { storagetest.Run(t, open) }
