-- Each second's cadence and heart rate of a ride (two bytes a second: cadence + 1 and heart
-- rate, 0 meaning unknown), kept for the ride's FIT file. Empty for rides merged before.
ALTER TABLE rides ADD COLUMN details BLOB NOT NULL DEFAULT x'';
