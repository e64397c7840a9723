-- Erasure of a data subject (docs/privacy.md, "Data subject requests") clears the address in the
-- subject's access records, as prisma/personal-data.ts says for access_records.ip; the record itself
-- (who read which record type, when) stays for breach scoping, pseudonymous once the account is erased.
-- The runtime role may change that one column and nothing else of the access log.
GRANT UPDATE ("ip") ON "access_records" TO benteng_app;
