-- What a district sends of personal data, as its last applied batch said: `minimal/v1` or
-- `full/v1`, and with full records the legal basis it gave (PIPL Art. 51: the choice is
-- recorded where the records arrive).
ALTER TABLE upstream_checkpoints ADD COLUMN projection TEXT NOT NULL DEFAULT 'minimal/v1';
ALTER TABLE upstream_checkpoints ADD COLUMN legal_basis TEXT NOT NULL DEFAULT '';
