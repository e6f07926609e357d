-- Trained-volunteer figures look qualifications up by volunteer.
CREATE INDEX qualifications_by_volunteer ON qualifications (volunteer_id, granted_date);
