-- Upload sessions are bound to the principal that opened them. Sessions stored
-- before this have no owner and stay open to any pusher of their repository until
-- they expire.
ALTER TABLE uploads ADD COLUMN owner TEXT;
