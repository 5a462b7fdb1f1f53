-- Idempotency keys are opaque tokens: compare them byte for byte, not case-insensitively as the
-- database's default utf8mb4_unicode_ci collation would ("Key-A" and "key-a" are two keys).
ALTER TABLE `idempotency_keys` MODIFY COLUMN `idem_key` varchar(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
