-- Fails on purpose at its second statement: the transaction is rolled back on
-- each target, so the first statement leaves nothing behind either.
CREATE TABLE IF NOT EXISTS will_not_stay (id int);
ALTER TABLE table_that_does_not_exist ADD COLUMN x int;
