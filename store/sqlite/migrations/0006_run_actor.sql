-- Who started a run by hand (a rerun, a dispatch, a replay): "ui" or "api",
-- the identity the API knew the client by (never a token) and its address.
-- Empty for runs that an event started.
ALTER TABLE runs ADD COLUMN actor TEXT NOT NULL DEFAULT '';
