-- The ID number's hash under the federation key, as a district's registry sends it: the
-- same person registered in several districts carries the same one, so the city counts
-- people once ('' where there is none: a city's own volunteers, a standalone instance).
ALTER TABLE volunteers ADD COLUMN person TEXT NOT NULL DEFAULT '';

CREATE INDEX volunteers_by_person ON volunteers (person) WHERE person <> '';
