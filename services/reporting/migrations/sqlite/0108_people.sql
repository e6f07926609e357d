-- The ID number's hash under the federation key, as a district's registry sends it: the
-- same person registered in several districts carries the same one ('' where there is
-- none: a city's own volunteers, a standalone instance). `shared` marks the volunteers
-- whose person is registered more than once, so that counting people reads those few
-- rows rather than every volunteer.
ALTER TABLE volunteers ADD COLUMN person TEXT NOT NULL DEFAULT '';
ALTER TABLE volunteers ADD COLUMN shared INTEGER NOT NULL DEFAULT 0;

CREATE INDEX volunteers_by_person ON volunteers (person) WHERE person <> '';
CREATE INDEX volunteers_shared ON volunteers (shared) WHERE shared = 1;
