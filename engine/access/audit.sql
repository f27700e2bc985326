-- The audit trail: who read which patient's data through careloop, for what, when. Append-only.
-- Run by the owner (careloop roles apply); idempotent.
CREATE TABLE IF NOT EXISTS careloop_audit (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    who        text        NOT NULL DEFAULT session_user,  -- the PostgreSQL login: each person connects as their own
    patient_id text,                                       -- NULL: a read that named no patient
    action     text        NOT NULL,                       -- explain, tasks.list, audit.query, ...
    purpose    text        NOT NULL,                       -- care, operations, audit, erasure
    detail     text        NOT NULL DEFAULT ''             -- never patient data: counts, options, the command
);
CREATE INDEX IF NOT EXISTS careloop_audit_patient_at ON careloop_audit (patient_id, at);
CREATE INDEX IF NOT EXISTS careloop_audit_who_at ON careloop_audit (who, at);
CREATE INDEX IF NOT EXISTS careloop_audit_at ON careloop_audit (at);

-- who and at are the server's, whatever the insert says: a caller cannot write a row in another's name or date it.
CREATE OR REPLACE FUNCTION careloop_audit_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.who := session_user;
    NEW.at := clock_timestamp();
    RETURN NEW;
END $$;

-- Rows are never changed, and deleted only by careloop_audit_expire (older than the retention, at least 6 months),
-- whoever asks: the owner included, since a trigger binds it where privileges do not.
CREATE OR REPLACE FUNCTION careloop_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('careloop.audit_expiring', true) = 'on'
            AND OLD.at < now() - interval '6 months' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'careloop_audit is append-only: % refused (older rows go only through careloop_audit_expire)',
        TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION careloop_audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'careloop_audit is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END $$;

-- Deletes the rows older than ``keep`` (at least 6 months: China's Cybersecurity Law keeps network logs that long);
-- returns how many went.
CREATE OR REPLACE FUNCTION careloop_audit_expire(keep interval) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    gone bigint;
BEGIN
    IF keep < interval '6 months' THEN
        RAISE EXCEPTION 'the audit retention must be at least 6 months, not %', keep
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM set_config('careloop.audit_expiring', 'on', true);
    DELETE FROM careloop_audit WHERE at < now() - keep;
    GET DIAGNOSTICS gone = ROW_COUNT;
    PERFORM set_config('careloop.audit_expiring', 'off', true);
    RETURN gone;
END $$;
REVOKE ALL ON FUNCTION careloop_audit_expire(interval) FROM PUBLIC;

DROP TRIGGER IF EXISTS careloop_audit_stamp ON careloop_audit;
CREATE TRIGGER careloop_audit_stamp BEFORE INSERT ON careloop_audit
    FOR EACH ROW EXECUTE FUNCTION careloop_audit_stamp();
DROP TRIGGER IF EXISTS careloop_audit_append_only ON careloop_audit;
CREATE TRIGGER careloop_audit_append_only BEFORE UPDATE OR DELETE ON careloop_audit
    FOR EACH ROW EXECUTE FUNCTION careloop_audit_refuse();
DROP TRIGGER IF EXISTS careloop_audit_no_truncate ON careloop_audit;
CREATE TRIGGER careloop_audit_no_truncate BEFORE TRUNCATE ON careloop_audit
    FOR EACH STATEMENT EXECUTE FUNCTION careloop_audit_refuse_truncate();
