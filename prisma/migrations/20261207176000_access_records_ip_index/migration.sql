-- internal_breach_scope (POST /internal/v1/incidents/breach-scope) looks access records up by the
-- suspected addresses as well as by credential and principal (one OR of three conditions). The
-- credential and principal had indexes; without one on the address, asking about an address read
-- the whole table. With it, PostgreSQL can combine the three indexes (a BitmapOr).
CREATE INDEX "access_records_ip_occurred_at_idx" ON "access_records" ("ip", "occurred_at");
