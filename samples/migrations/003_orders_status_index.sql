-- CREATE INDEX CONCURRENTLY cannot run in a transaction: run this one with
-- "non-transactional" ticked; each statement then commits on its own.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_status_created ON orders (status, created_at);
