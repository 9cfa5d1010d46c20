-- Removes a tenant's read-only database (run as `default`). Delete users.d/${TENANT_DB}.xml
-- first, so the user is gone (within ~2 s) before its data. Same placeholders as provision.sql.
DROP TABLE IF EXISTS verocta.copy__${TENANT_DB}__transactions;
DROP TABLE IF EXISTS verocta.copy__${TENANT_DB}__daily_category_spend;
DROP TABLE IF EXISTS verocta.copy__${TENANT_DB}__daily_vendor_spend;
DROP TABLE IF EXISTS verocta.copy__${TENANT_DB}__rollup_refreshes;
DROP TABLE IF EXISTS verocta.copy__${TENANT_DB}__spend_scores;
DROP TABLE IF EXISTS verocta.copy__${TENANT_DB}__anomalies;
DROP TABLE IF EXISTS verocta.copy__${TENANT_DB}__forecasts;
DROP DATABASE IF EXISTS ${TENANT_DB};
