-- Adds when an order shipped. Additive: run it on the primary (app) and the
-- reporting subscriber (app_reporting) together; pgfleet runs the subscriber
-- first, because logical replication does not carry DDL.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS shipped_at timestamptz;
CREATE INDEX IF NOT EXISTS orders_shipped_at ON orders (shipped_at) WHERE shipped_at IS NOT NULL;
