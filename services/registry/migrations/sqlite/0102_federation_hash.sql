-- The hash of a volunteer's ID number under the federation key (a district's), which goes
-- up to the city so that it recognises one person registered in two districts; empty
-- where no federation key is configured.
ALTER TABLE volunteers ADD COLUMN id_number_federation_hash TEXT NOT NULL DEFAULT '';

CREATE INDEX volunteers_by_federation_hash ON volunteers (id_number_federation_hash)
    WHERE id_number_federation_hash <> '';
