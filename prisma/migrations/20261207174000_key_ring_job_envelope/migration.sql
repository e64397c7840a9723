-- The key ring's second family (docs/operations.md, "Key rotation"): `job-envelope`, the HMAC-SHA256
-- keys that sign job envelopes (libs/jobs/src/job-signer.ts), rotated by the processes like the
-- access-token keys. The material is the 32-byte secret, sealed under KEY_RING_ROOT_KEYS as before;
-- the key_ring_* functions are per family already.
ALTER TABLE "key_ring" DROP CONSTRAINT "key_ring_family_form";
ALTER TABLE "key_ring" ADD CONSTRAINT "key_ring_family_form" CHECK ("family" IN ('access-token', 'job-envelope'));
