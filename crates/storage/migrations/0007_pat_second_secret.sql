-- Personal access tokens get a second, independently rotatable secret, like service
-- tokens: rotate one while the other keeps working.
ALTER TABLE personal_access_tokens ADD COLUMN password2_hash TEXT;
