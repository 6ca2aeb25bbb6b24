package postgres_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/sqlstore"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

func open(t *testing.T) storage.Store {
	t.Helper()
	s, err := postgres.Open(storagetest.PostgresDSN(t), postgres.Config{Tracer: statements}, sqlstore.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(storagetest.Ctx(t)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// TestConformance runs the storage conformance suite, then checks the plan
// of every statement it ran (plan_test.go).
func TestConformance(t *testing.T) {
	storagetest.Run(t, open)
	t.Run("Plans", testPlans)
	t.Run("PlansEstablished", testPlansEstablished)
}
