-- Whether a ride was on a real bike (some second measured by a trainer or a power meter: the
-- delivered line carries `power`), for the results board's mark; false for rides merged before.
ALTER TABLE rides ADD COLUMN real_bike BOOLEAN NOT NULL DEFAULT FALSE;

-- A racer's rides, newest first (their page's history and personal bests), without a scan of
-- every ride.
CREATE INDEX rides_by_racer ON rides (racer_id, race_id DESC);
