-- requires-server: >=20.5
-- Per-tenant read-only access on servers with SQL access control (run as `default`, which has
-- access_management=1 in the users.xml written by start-server.sh). NOT VERIFIED on this
-- project's machines (they have 18.16 only): verify with verify-isolation.sh-style probes
-- before relying on it. Replaces provision.sql + user.xml there: no per-tenant copies, a row
-- policy per shared table instead. Placeholders as in provision.sql / user.xml.
--
-- Row policies before 23.x are "permissive": once a table has any policy, a user without one
-- sees no rows at all. So the internal users get an explicit see-everything policy first.
-- Policy names are unique per table, hence one policy per tenant named like its user.
CREATE ROW POLICY IF NOT EXISTS verocta_internal ON verocta.transactions FOR SELECT USING 1 TO default;
CREATE ROW POLICY IF NOT EXISTS verocta_internal ON verocta.daily_category_spend FOR SELECT USING 1 TO default;
CREATE ROW POLICY IF NOT EXISTS verocta_internal ON verocta.daily_vendor_spend FOR SELECT USING 1 TO default;
CREATE ROW POLICY IF NOT EXISTS verocta_internal ON verocta.rollup_refreshes FOR SELECT USING 1 TO default;
CREATE ROW POLICY IF NOT EXISTS verocta_internal ON verocta.spend_scores FOR SELECT USING 1 TO default;
CREATE ROW POLICY IF NOT EXISTS verocta_internal ON verocta.anomalies FOR SELECT USING 1 TO default;
CREATE ROW POLICY IF NOT EXISTS verocta_internal ON verocta.forecasts FOR SELECT USING 1 TO default;

CREATE USER IF NOT EXISTS ${TENANT_DB} IDENTIFIED WITH sha256_hash BY '${PASSWORD_SHA256_HEX}' HOST LOCAL SETTINGS PROFILE 'verocta_tenant';

CREATE ROW POLICY IF NOT EXISTS ${TENANT_DB} ON verocta.transactions FOR SELECT USING tenant_id = '${TENANT_ID}' TO ${TENANT_DB};
CREATE ROW POLICY IF NOT EXISTS ${TENANT_DB} ON verocta.daily_category_spend FOR SELECT USING tenant_id = '${TENANT_ID}' TO ${TENANT_DB};
CREATE ROW POLICY IF NOT EXISTS ${TENANT_DB} ON verocta.daily_vendor_spend FOR SELECT USING tenant_id = '${TENANT_ID}' TO ${TENANT_DB};
CREATE ROW POLICY IF NOT EXISTS ${TENANT_DB} ON verocta.rollup_refreshes FOR SELECT USING tenant_id = '${TENANT_ID}' TO ${TENANT_DB};
CREATE ROW POLICY IF NOT EXISTS ${TENANT_DB} ON verocta.spend_scores FOR SELECT USING tenant_id = '${TENANT_ID}' TO ${TENANT_DB};
CREATE ROW POLICY IF NOT EXISTS ${TENANT_DB} ON verocta.anomalies FOR SELECT USING tenant_id = '${TENANT_ID}' TO ${TENANT_DB};
CREATE ROW POLICY IF NOT EXISTS ${TENANT_DB} ON verocta.forecasts FOR SELECT USING tenant_id = '${TENANT_ID}' TO ${TENANT_DB};

GRANT SELECT ON verocta.transactions TO ${TENANT_DB};
GRANT SELECT ON verocta.daily_category_spend TO ${TENANT_DB};
GRANT SELECT ON verocta.daily_vendor_spend TO ${TENANT_DB};
GRANT SELECT ON verocta.rollup_refreshes TO ${TENANT_DB};
GRANT SELECT ON verocta.spend_scores TO ${TENANT_DB};
GRANT SELECT ON verocta.anomalies TO ${TENANT_DB};
GRANT SELECT ON verocta.forecasts TO ${TENANT_DB};
