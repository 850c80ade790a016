-- The countries a company's codes may go to by SMS (ISO 3166 region codes,
-- as a JSON array); empty means every country.
ALTER TABLE companies ADD COLUMN sms_countries TEXT NOT NULL DEFAULT '[]';
