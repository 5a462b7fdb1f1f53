-- IDs are opaque and case-sensitive in the code (the contracts accept upper and lower case): compare
-- them byte for byte, not case-insensitively as the database's default utf8mb4_unicode_ci collation
-- would. With the default, PUT /products/fz-1 overwrote FZ-1 while a reservation of fz-1 was
-- UNKNOWN_SKU. Every ID column of every service gets the same binary collation (one rule, and
-- cross-database comparisons by the auditor compare like with like).
ALTER TABLE `payments` MODIFY COLUMN `payment_id` varchar(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, MODIFY COLUMN `order_id` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
