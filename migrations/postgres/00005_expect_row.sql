-- gatehouse_expect_row raises SQLSTATE GH001 when n is 0. A transaction
-- whose conditional write must change a row (spending a refresh token or an
-- authorization code: of two concurrent requests only one may) sends the
-- write as
--   WITH r AS (UPDATE … RETURNING 1) SELECT gatehouse_expect_row(count(*)) FROM r
-- together with its later statements and COMMIT, in one round trip: when no
-- row changed, the error aborts the transaction there, so nothing after the
-- write commits, and the store reports the miss (storage.ErrSpent).

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION gatehouse_expect_row(n bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	IF n = 0 THEN
		RAISE EXCEPTION 'gatehouse: the conditional write changed no row' USING ERRCODE = 'GH001';
	END IF;
	RETURN n;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION gatehouse_expect_row(bigint);
