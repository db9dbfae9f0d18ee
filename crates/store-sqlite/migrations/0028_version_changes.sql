-- 0028: which fields a version changed (issue 16, "which fields changed, never values"). A JSON
-- array of field names, like `field_names`: the fields present in both this version and the
-- one it was written over whose value differs. Computed by the server at write time, where it
-- holds both values; no value is stored. NULL where it was not recorded: standard secrets,
-- first versions, rollbacks, and every version written before this migration.
ALTER TABLE secret_versions ADD COLUMN changed_fields TEXT;
