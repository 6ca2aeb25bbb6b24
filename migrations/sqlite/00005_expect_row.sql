-- PostgreSQL's 00005 adds gatehouse_expect_row, with which a transaction
-- sends a conditional write together with its later statements. SQLite runs
-- in the process, with no round trip to save: the store checks the write's
-- row count at once. Nothing to change; the version is kept in step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
