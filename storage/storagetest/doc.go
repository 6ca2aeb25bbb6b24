// Package storagetest is the conformance suite every storage backend runs,
// plus the helpers that give each test its own real database: a fresh
// PostgreSQL schema (dropped at cleanup) inside GATEHOUSE_TEST_POSTGRES, or a
// SQLite file in the test's temporary directory.
//
// Without GATEHOUSE_TEST_POSTGRES the PostgreSQL half skips with a message;
// with it set, an unreachable server fails the test, so CI never skips
// silently.
package storagetest
