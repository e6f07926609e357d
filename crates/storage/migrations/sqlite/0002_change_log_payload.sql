-- Records in the change log are encoded `egret.sync.v1.Record` messages. Changes written
-- before kept their record as JSON in payload_json; readers encode those on the way out.
ALTER TABLE change_log ADD COLUMN payload BLOB NOT NULL DEFAULT X'';
